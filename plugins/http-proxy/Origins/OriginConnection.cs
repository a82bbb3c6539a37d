using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Parents;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Origins;

/// <summary>A connection to an origin server with its buffers; pooled between requests when the origin keeps it open.</summary>
internal sealed class OriginConnection : IDisposable
{
    /// <param name="parent">The parent proxy the connection goes to (or through), or null for a direct one.</param>
    public OriginConnection(Socket socket, NetAddress address, string key, int bufferSize, ParentProxy? parent = null)
    {
        Parent = parent;
        Socket = socket;
        Address = address;
        Key = key;
        Reader = new SocketReader(socket, bufferSize);
        Writer = new SocketWriter(socket, 16 * 1024);
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
            return Reader.Count == 0 && !Socket.Poll(0, SelectMode.SelectRead);
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
        Socket.Dispose();
        Reader.Dispose();
        Writer.Dispose();
    }
}
