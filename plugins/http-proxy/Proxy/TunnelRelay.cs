using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Io.Epoll;

namespace Gateway.Plugins.HttpProxy.Proxy;

/// <summary>
/// Relays bytes both ways between a client and an origin until each side has closed, passing a half-close on:
/// a CONNECT tunnel (RFC 9110 §9.3.6), a connection switched by a 101 (§7.8), a SOCKS CONNECT (RFC 1928). Bytes
/// already buffered on either side (sent right behind a head or a SOCKS request) go first. A relay idle in both
/// directions for the idle timeout ends; a failure on one side ends both. A side whose reader has a
/// <see cref="SocketReader.Loop"/> is received from and sent to on that epoll loop (a client, or a direct origin connection,
/// served by one; the other side may be on .NET sockets, a parent's tunnel): the deadline then reaches it through the
/// abort registered by whoever put it on the loop.
/// </summary>
internal sealed class TunnelRelay
{
    private readonly Socket _client;
    private readonly SocketReader _clientReader;
    private readonly Socket _origin;
    private readonly SocketReader _originReader;
    private long _sentToClient;
    private long _sentToOrigin;
    private int _ended;

    public TunnelRelay(Socket client, SocketReader clientReader, Socket origin, SocketReader originReader)
    {
        _client = client;
        _clientReader = clientReader;
        _origin = origin;
        _originReader = originReader;
    }

    /// <summary>Bytes sent to the client so far.</summary>
    public long SentToClient => Interlocked.Read(ref _sentToClient);

    /// <summary>Bytes sent to the origin so far.</summary>
    public long SentToOrigin => Interlocked.Read(ref _sentToOrigin);

    /// <summary>Relays until both directions ended; the caller closes both sockets next.</summary>
    /// <param name="deadline">The connection's cancellation source, re-armed with <paramref name="idleTimeout"/> on every transfer.</param>
    /// <param name="idleTimeout">How long the tunnel may carry nothing in either direction (tunnelIdleTimeoutSeconds).</param>
    public async Task RunAsync(CancellationTokenSource deadline, TimeSpan idleTimeout)
    {
        IdleDeadline idle = new(deadline, idleTimeout);
        // Client to origin runs on its own; origin to client runs here, in this method's own continuation: one task
        // and no Task.WhenAll per tunnel.
        Task up = PumpAsync(_clientReader, _origin, _originReader.Loop, _client, toClient: false, idle);
        await PumpAsync(_originReader, _client, _clientReader.Loop, _origin, toClient: true, idle).ConfigureAwait(false);
        await up.ConfigureAwait(false);
    }

    private async Task PumpAsync(SocketReader from, Socket to, LoopSocket? toLoop, Socket fromSocket, bool toClient, IdleDeadline idle)
    {
        try
        {
            while (true)
            {
                if (from.Count == 0)
                {
                    idle.Touch();
                    if (await from.FillAsync(idle.Token).ConfigureAwait(false) == 0)
                    {
                        break;
                    }
                }

                ReadOnlyMemory<byte> data = from.BufferedMemory;
                while (!data.IsEmpty)
                {
                    int sent = data.Length;
                    if (toLoop is null)
                    {
                        sent = await to.SendAsync(data, SocketFlags.None, idle.Token).ConfigureAwait(false);
                    }
                    else
                    {
                        await toLoop.SendAsync(data).ConfigureAwait(false);
                    }

                    if (toClient)
                    {
                        Interlocked.Add(ref _sentToClient, sent);
                    }
                    else
                    {
                        Interlocked.Add(ref _sentToOrigin, sent);
                    }

                    data = data[sent..];
                }

                from.Consume(from.Count);
            }

            // Pass the half-close on. When the other direction has ended already, both sockets are closed next and
            // close() sends the same FIN: no shutdown() call for it.
            if (Interlocked.Increment(ref _ended) == 1)
            {
                to.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // One side failed: end both so the other pump stops too.
            Abort(to);
            Abort(fromSocket);
        }
    }

    /// <summary>Shuts a socket down both ways, ignoring one that is already closed.</summary>
    public static void Abort(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }
}
