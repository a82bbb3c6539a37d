using System.Net.Sockets;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Plugins.DnsDot.Server.Epoll;
using Gateway.Sdk.Handlers;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Server;

/// <summary>
/// DNS over TCP (RFC 7766) on host sockets and virtual endpoints: the per-client connection cap, then one
/// <see cref="StreamSession"/> per connection (pipelining, out-of-order answers, idle timeout, bounded buffering).
/// </summary>
internal sealed class DnsStreamHandler : IStreamHandler
{
    /// <summary>Queries resolved concurrently per connection; reading pauses beyond it (back-pressure).</summary>
    public const int MaxPipelined = StreamSession.MaxPipelined;

    private readonly DnsResolver _resolver;
    private readonly ILogger _logger;
    private readonly DnsDotMetrics? _metrics;
    private readonly ClientGate? _gate;
    private readonly EpollLoopGroup? _loops;

    /// <summary>
    /// Creates the handler; without a gate every client is admitted (tests). Connections run on
    /// <paramref name="loops"/> when given (see <see cref="LoopStream"/>), else on System.Net.Sockets.
    /// </summary>
    public DnsStreamHandler(DnsResolver resolver, ILogger logger, DnsDotMetrics? metrics = null, ClientGate? gate = null, EpollLoopGroup? loops = null)
    {
        _resolver = resolver;
        _logger = logger;
        _metrics = metrics;
        _gate = gate;
        _loops = loops;
    }

    /// <inheritdoc/>
    public async Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken)
    {
        Gateway.Sdk.Networking.NetAddress client = connection.Client.Address;
        if (_gate is not null && !_gate.TryOpenConnection(client))
        {
            return;
        }

        _metrics?.ClientConnectionsOpened.Add(1);
        LoopSocket? loop = _loops?.TryAdd(connection.Socket);
        try
        {
            // The socket's plain stream (the session enforces the host's idle limit itself, see StreamSession), on an
            // epoll loop when one took it.
            await using Stream stream = loop is null ? new NetworkStream(connection.Socket, ownsSocket: false) : new LoopStream(loop);
            var session = new StreamSession(stream, _resolver, _gate, client, DnsTransport.Tcp, LoopStream.ResetAction(connection.Socket, loop), _metrics, cancellationToken, connection.IdleTimeout);
            string reason = await session.RunAsync().ConfigureAwait(false);
            DnsDotLog.ClientConnectionEnded(_logger, connection.Client.ToString(), reason);
        }
        finally
        {
            // Off the loop before the host closes the socket (nothing left waiting on it).
            loop?.Abort();
            loop?.Dispose();
            _gate?.CloseConnection(client);
            _metrics?.ClientConnectionsClosed.Add(1);
        }
    }
}
