namespace Gateway.Host.Configuration;

/// <summary>
/// Limits for host-socket stream listeners (<c>host.limits</c>). A plugin section may override both keys
/// for its own listeners (<c>maxConnections</c>, <c>idleTimeoutSeconds</c> next to <c>listen:</c>).
/// </summary>
internal sealed class LimitsOptions
{
    /// <summary>The default for <see cref="MaxConnections"/>.</summary>
    public const int DefaultMaxConnections = 10000;

    /// <summary>The default for <see cref="IdleTimeoutSeconds"/>.</summary>
    public const int DefaultIdleTimeoutSeconds = 60;

    /// <summary>Open connections allowed per listener; a new connection over the limit is closed at once. Defaults to 10000.</summary>
    public int MaxConnections { get; set; } = DefaultMaxConnections;

    /// <summary>Seconds a connection may go without receiving data before it is closed; 0 for no limit. Defaults to 60 s.</summary>
    public int IdleTimeoutSeconds { get; set; } = DefaultIdleTimeoutSeconds;

    /// <summary><see cref="IdleTimeoutSeconds"/> as a time span (infinite for 0).</summary>
    public TimeSpan IdleTimeout => IdleTimeoutSeconds == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds(IdleTimeoutSeconds);
}
