using System.Diagnostics.Metrics;

namespace Gateway.Sdk.Relay;

/// <summary>Settings of one <see cref="StreamRelay.RunAsync"/>.</summary>
public sealed class StreamRelayOptions
{
    /// <summary>
    /// Time the connection may carry no data in EITHER direction before both sides are closed (a whole-connection
    /// deadline, see <see cref="Handlers.IdleDeadline"/>: a long one-way download is not cut). Defaults to
    /// <see cref="Timeout.InfiniteTimeSpan"/> (none); pass <see cref="Handlers.StreamConnection.IdleTimeout"/> to
    /// honour the listener's <c>idleTimeoutSeconds</c>.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Receive buffer per direction, in bytes, rented from the shared array pool for the relay's lifetime; also the
    /// most bytes moved per system call. Defaults to 16384 (16 KiB); at least 1024.
    /// </summary>
    public int BufferSize { get; init; } = 16 * 1024;

    /// <summary>
    /// Optional counter (unit bytes) the relay adds to as data moves, tagged <c>direction</c> = <c>upstream</c>
    /// (client to upstream) or <c>downstream</c>; create it on <see cref="Plugins.IPluginContext.Meter"/> so it is
    /// exported with the plugin's metrics. Defaults to none.
    /// </summary>
    public Counter<long>? Bytes { get; init; }

    /// <summary>The clock of the idle deadline; <see cref="TimeProvider.System"/> when null.</summary>
    public TimeProvider? TimeProvider { get; init; }
}
