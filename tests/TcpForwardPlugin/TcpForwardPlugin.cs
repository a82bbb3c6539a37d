using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Net.Sockets;
using Gateway.Sdk.Configuration;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Gateway.Sdk.Relay;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Samples.TcpForward;

/// <summary>
/// Forwards every TCP connection on its <c>listen:</c>/<c>virtual:</c> endpoints to <c>target</c> (host:port, resolved
/// through the gateway's resolver), passing half-closes and resets on and closing connections idle in both directions
/// for <c>idleTimeoutSeconds</c> (the host's key; 0 = never). UDP datagrams on the same endpoints get the RFC 868 time.
/// Keys: <c>target</c> (required), <c>connectTimeoutSeconds</c> (1-600, default 10), <c>time</c> (default true).
/// </summary>
public sealed partial class TcpForwardPlugin : IGatewayPlugin, IStreamHandler, IDatagramHandler
{
    private readonly List<IDisposable> _bindings = [];
    private IPluginContext? _context;
    private Options _options = new(default, TimeSpan.FromSeconds(10), true);
    private ILogger _logger = NullLogger.Instance;
    private Counter<long>? _bytes;
    private Counter<long>? _connections;

    /// <inheritdoc/>
    public string Id => "tcp-forward";

    /// <inheritdoc/>
    public void Validate(PluginValidationContext context)
    {
        var section = new SectionReader(context);
        Read(section);
        section.Complete();
    }

    /// <inheritdoc/>
    public Task StartAsync(IPluginContext context, CancellationToken cancellationToken)
    {
        _context = context;
        _options = Read(new SectionReader(context.Configuration, context.PluginId));
        _logger = context.Logger;
        _bytes = context.Meter.CreateCounter<long>("tcp_forward.bytes", "By", "Bytes relayed, by direction (upstream, downstream)");
        _connections = context.Meter.CreateCounter<long>("tcp_forward.connections", "{connection}", "Connections forwarded, by how they ended");
        foreach (ServiceEndpoint endpoint in context.ConfiguredEndpoints)
        {
            _bindings.Add(context.BindStream(endpoint, this));
            if (_options.Time)
            {
                _bindings.Add(context.BindDatagram(endpoint, this));
            }
        }

        Started(_logger, _options.Target, context.ConfiguredEndpoints.Count);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        _bindings.ForEach(binding => binding.Dispose());
        _bindings.Clear();
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken)
    {
        Socket upstream;
        try
        {
            upstream = await _options.Target.ConnectAsync(_context!.NameResolver, _options.ConnectTimeout, _context.ProtectSocket, cancellationToken);
        }
        catch (SocketException ex)
        {
            // The client must not take a refused forward for an empty answer: reset it, as the target would have.
            ConnectFailed(_logger, connection.Client, _options.Target, ex.SocketErrorCode);
            connection.Socket.LingerState = new LingerOption(true, 0);
            _connections?.Add(1, new KeyValuePair<string, object?>("end", "connectFailed"));
            return;
        }

        using (upstream)
        {
            var relay = new StreamRelayOptions { IdleTimeout = connection.IdleTimeout, Bytes = _bytes };
            RelayResult result = await StreamRelay.RunAsync(connection.Socket, upstream, relay, cancellationToken);
            Closed(_logger, connection.Client, result.End, result.ClientToUpstreamBytes, result.UpstreamToClientBytes);
            _connections?.Add(1, new KeyValuePair<string, object?>("end", result.End.ToString()));
        }
    }

    /// <summary>RFC 868: any datagram gets the seconds since 1900-01-01 as a 32-bit big-endian number.</summary>
    public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
    {
        Span<byte> reply = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(reply, (uint)(DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 2_208_988_800L));
        request.Reply(reply);
    }

    private static Options Read(SectionReader section) => new(
        section.HostPort("target", required: true) ?? default,
        section.Seconds("connectTimeoutSeconds", TimeSpan.FromSeconds(10), minSeconds: 1, maxSeconds: 600),
        section.Bool("time", true));

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "forwarding to {Target} from {Count} endpoint(s)")]
    private static partial void Started(ILogger logger, HostPort target, int count);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "{Client}: connecting to {Target} failed ({Error}); client reset")]
    private static partial void ConnectFailed(ILogger logger, NetEndpoint client, HostPort target, SocketError error);

    [LoggerMessage(EventId = 102, Level = LogLevel.Debug, Message = "{Client}: closed ({End}), {Up} bytes up, {Down} bytes down")]
    private static partial void Closed(ILogger logger, NetEndpoint client, RelayEnd end, long up, long down);

    private sealed record Options(HostPort Target, TimeSpan ConnectTimeout, bool Time);
}
