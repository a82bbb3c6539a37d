using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Io.Epoll;
using Gateway.Plugins.HttpProxy.Parents;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Origins;

/// <summary>
/// A connection to an origin server with its buffers; pooled between requests when the origin keeps it open. One
/// opened for a client served by an epoll loop is served by that loop too (<see cref="Loop"/>); the client session
/// holding it binds its deadline to it (<see cref="Bind"/>), so that the deadline aborts its waits as it aborts the
/// client's.
/// </summary>
internal sealed class OriginConnection : IDisposable
{
    private CancellationTokenRegistration _abort;

    /// <param name="parent">The parent proxy the connection goes to (or through), or null for a direct one.</param>
    /// <param name="loop">The socket on an epoll loop, or null for System.Net.Sockets; disposed with this.</param>
    /// <param name="abort">The registration that binds the opening session's deadline to <paramref name="loop"/> (<see cref="Bind"/>).</param>
    public OriginConnection(Socket socket, NetAddress address, string key, int bufferSize, ParentProxy? parent = null, LoopSocket? loop = null,
        CancellationTokenRegistration abort = default)
    {
        _abort = abort;
        Parent = parent;
        Socket = socket;
        Address = address;
        Key = key;
        Loop = loop;
        Reader = new SocketReader(socket, bufferSize) { Loop = loop };
        Writer = new SocketWriter(socket, 16 * 1024) { Loop = loop };
    }

    /// <summary>The socket on its epoll loop; null when System.Net.Sockets serves it.</summary>
    public LoopSocket? Loop { get; }

    /// <summary>
    /// Makes <paramref name="deadline"/> abort the loop socket's waits (a connection on a loop ignores the tokens passed
    /// to its reads and writes) until <see cref="Unbind"/>; nothing for a connection on System.Net.Sockets.
    /// </summary>
    public void Bind(CancellationToken deadline)
    {
        if (Loop is { } loop)
        {
            _abort.Dispose();
            _abort = deadline.UnsafeRegister(LoopSocket.AbortCallback, loop);
        }
    }

    /// <summary>Ends <see cref="Bind"/>: the connection leaves its client (back to the pool).</summary>
    public void Unbind()
    {
        _abort.Dispose();
        _abort = default;
    }

    public Socket Socket { get; }

    /// <summary>
    /// The address connected to: checked against each client's destination policy before a pooled connection serves it
    /// (a parent's address is not: the operator configured it).
    /// </summary>
    public NetAddress Address { get; }

    /// <summary>The pool key, "host:port" as the client wrote it (plus " via " and the parent's name through a parent).</summary>
    public string Key { get; }

    /// <summary>
    /// The parent proxy: an HTTP parent gets absolute-form requests on this connection; through a SOCKS5 parent it is
    /// a tunnel to the origin. Null for a direct connection.
    /// </summary>
    public ParentProxy? Parent { get; }

    public SocketReader Reader { get; }

    public SocketWriter Writer { get; }

    /// <summary>When the connection went idle (Environment.TickCount64).</summary>
    public long IdleSince { get; set; }

    /// <summary>
    /// False when the origin closed the connection or sent something unsolicited while idle; such a
    /// connection must not carry another request (RFC 9112 §9.3.1).
    /// </summary>
    public bool IsUsable()
    {
        try
        {
            // A connection whose loop socket was aborted (its client's deadline fired) has an exchange cut off.
            return Reader.Count == 0 && Loop is not { IsAborted: true } && !Socket.Poll(0, SelectMode.SelectRead);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        // Off the loop before the socket is closed.
        _abort.Dispose();
        Loop?.Dispose();
        Socket.Dispose();
        Reader.Dispose();
        Writer.Dispose();
    }
}
