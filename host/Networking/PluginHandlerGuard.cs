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

    private readonly ILogger _logger;
    private readonly Counter<long> _failures;
    private readonly KeyValuePair<string, object?> _pluginTag;
    private long _nextLogTicks;
    private long _suppressed;

    public PluginHandlerGuard(string pluginId, ILogger logger, Meter hostMeter)
    {
        PluginId = pluginId;
        _logger = logger;
        _pluginTag = new KeyValuePair<string, object?>("plugin", pluginId);
        _failures = hostMeter.CreateCounter<long>("gateway.plugin.handler_failures", description: "Plugin handler calls that threw");
    }

    /// <summary>The plugin these handlers belong to.</summary>
    public string PluginId { get; }

    /// <summary>Calls a datagram handler; an exception is reported and swallowed.</summary>
    public void InvokeDatagram(IDatagramHandler handler, in DatagramRequest request, ReadOnlySpan<byte> payload)
    {
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
        }
    }

    /// <summary>Counts a handler failure and logs it, at most once per 10 s per plugin (with the number suppressed).</summary>
    public void Report(Exception exception)
    {
        _failures.Add(1, _pluginTag);
        long now = Environment.TickCount64;
        long next = Interlocked.Read(ref _nextLogTicks);
        if (now < next || Interlocked.CompareExchange(ref _nextLogTicks, now + (long)LogInterval.TotalMilliseconds, next) != next)
        {
            Interlocked.Increment(ref _suppressed);
            return;
        }

        long suppressed = Interlocked.Exchange(ref _suppressed, 0);
        HandlerFailed(_logger, PluginId, suppressed, exception);
    }

    [LoggerMessage(EventId = 1900, Level = LogLevel.Error, Message = "plugin {PluginId}: a handler threw ({Suppressed} more failures not logged in the last 10 s); the plugin keeps serving")]
    private static partial void HandlerFailed(ILogger logger, string pluginId, long suppressed, Exception exception);
}
