using System.Diagnostics.Metrics;
using Gateway.Sdk.Handlers;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Networking;

/// <summary>
/// Runs one plugin's handlers so that a handler that throws fails only that datagram or connection
/// (DESIGN §4): the failure is counted, logged with the plugin id at a bounded rate, and the caller
/// keeps serving. One instance per loaded plugin.
/// </summary>
internal sealed partial class PluginHandlerGuard
{
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    /// <summary>Distinct kinds of failure rate-limited separately; more share one slot.</summary>
    private const int MaxKinds = 64;

    private readonly ILogger _logger;
    private readonly Counter<long> _failures;
    private readonly KeyValuePair<string, object?> _pluginTag;
    private readonly Dictionary<string, FailureKind> _kinds = new(StringComparer.Ordinal);
    private readonly FailureKind _overflow = new();
    private bool _draining;
    private int _activeStreams;
    private long _lastDatagramTicks;

    public PluginHandlerGuard(string pluginId, ILogger logger, Meter hostMeter)
    {
        PluginId = pluginId;
        _logger = logger;
        _pluginTag = new KeyValuePair<string, object?>("plugin", pluginId);
        _failures = hostMeter.CreateCounter<long>("gateway.plugin.handler_failures", description: "Plugin handler calls that threw");
    }

    /// <summary>The plugin these handlers belong to.</summary>
    public string PluginId { get; }

    /// <summary>
    /// True while this plugin version drains after being replaced or removed: a new version of the same plugin may then
    /// take over its sockets and virtual endpoints (the host hands them over rather than refusing the second bind).
    /// </summary>
    public bool Draining
    {
        get => Volatile.Read(ref _draining);
        set => Volatile.Write(ref _draining, value);
    }

    /// <summary>Stream connections this plugin version is serving now (host sockets and the TUN alike).</summary>
    public int ActiveStreams => Volatile.Read(ref _activeStreams);

    /// <summary><see cref="Environment.TickCount64"/> when a datagram was last handed to this version (0: never).</summary>
    public long LastDatagramTicks => Volatile.Read(ref _lastDatagramTicks);

    /// <summary>Calls a datagram handler; an exception is reported and swallowed.</summary>
    public void InvokeDatagram(IDatagramHandler handler, in DatagramRequest request, ReadOnlySpan<byte> payload)
    {
        // For the drain after a swap: how long ago this version last got work whose reply may still be pending.
        Volatile.Write(ref _lastDatagramTicks, Environment.TickCount64);
        try
        {
            handler.OnDatagram(request, payload);
        }
        catch (Exception ex)
        {
            Report(ex);
        }
    }

    /// <summary>Serves one stream connection and always disposes it; an exception is reported and swallowed.</summary>
    public async Task RunStreamAsync(IStreamHandler handler, StreamConnection connection, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _activeStreams);
        try
        {
            await handler.HandleAsync(connection, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down or unloading the plugin: not a failure.
        }
        catch (Exception ex) when (ex is IOException or TimeoutException or System.Net.Sockets.SocketException)
        {
            // The peer went away or idled out: ordinary for a connection, not a plugin failure.
        }
        catch (Exception ex)
        {
            Report(ex);
        }
        finally
        {
            try
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                // Closing an already broken connection.
            }

            Interlocked.Decrement(ref _activeStreams);
        }
    }

    /// <summary>
    /// Counts a handler failure and logs it, at most once per 10 s for each kind of failure (exception type and the
    /// method that threw), with the number of the same kind suppressed since. Limiting per kind rather than per plugin
    /// keeps a flood of one known failure from hiding a second, different one.
    /// </summary>
    public void Report(Exception exception)
    {
        _failures.Add(1, _pluginTag);
        FailureKind kind = KindOf(exception);
        long now = Environment.TickCount64;
        long next = Interlocked.Read(ref kind.NextLogTicks);
        if (now < next || Interlocked.CompareExchange(ref kind.NextLogTicks, now + (long)LogInterval.TotalMilliseconds, next) != next)
        {
            Interlocked.Increment(ref kind.Suppressed);
            return;
        }

        long suppressed = Interlocked.Exchange(ref kind.Suppressed, 0);
        if (suppressed == 0)
        {
            HandlerFailed(_logger, PluginId, exception);
        }
        else
        {
            HandlerFailedAgain(_logger, PluginId, suppressed, exception);
        }
    }

    /// <summary>
    /// The rate-limit slot of <paramref name="exception"/>'s kind. Keyed by names, not by Type/MethodBase objects, so
    /// that the table holds no reference into the plugin's collectible load context; bounded, so that a plugin
    /// throwing from ever new sites shares one overflow slot instead of growing the table.
    /// </summary>
    private FailureKind KindOf(Exception exception)
    {
        System.Reflection.MethodBase? site = exception.TargetSite;
        string key = exception.GetType().FullName + "@" + site?.DeclaringType?.FullName + "." + site?.Name;
        lock (_kinds)
        {
            if (_kinds.TryGetValue(key, out FailureKind? kind))
            {
                return kind;
            }

            if (_kinds.Count >= MaxKinds)
            {
                return _overflow;
            }

            kind = new FailureKind();
            _kinds.Add(key, kind);
            return kind;
        }
    }

    [LoggerMessage(EventId = 1900, Level = LogLevel.Error, Message = "plugin {PluginId}: a handler threw; the plugin keeps serving")]
    private static partial void HandlerFailed(ILogger logger, string pluginId, Exception exception);

    [LoggerMessage(EventId = 1901, Level = LogLevel.Error, Message = "plugin {PluginId}: a handler threw ({Suppressed} more failures like it not logged in the last 10 s); the plugin keeps serving")]
    private static partial void HandlerFailedAgain(ILogger logger, string pluginId, long suppressed, Exception exception);

    /// <summary>Rate-limit state of one kind of failure.</summary>
    private sealed class FailureKind
    {
        public long NextLogTicks;
        public long Suppressed;
    }
}
