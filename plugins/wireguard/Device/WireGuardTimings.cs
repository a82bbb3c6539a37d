namespace Gateway.Plugins.WireGuard.Device;

/// <summary>
/// The protocol's timers and limits (whitepaper §6.1–§6.4). The defaults are the whitepaper's values and must
/// not be changed in production; tests shorten them to run rekeys in seconds.
/// </summary>
internal sealed class WireGuardTimings
{
    /// <summary>The whitepaper's values.</summary>
    public static WireGuardTimings Default { get; } = new();

    /// <summary>REKEY_AFTER_MESSAGES: the initiator starts a new handshake after this many messages. Defaults to 2^60.</summary>
    public ulong RekeyAfterMessages { get; init; } = 1UL << 60;

    /// <summary>REJECT_AFTER_MESSAGES: a keypair is never used past this counter. Defaults to 2^64 − 2^13 − 1.</summary>
    public ulong RejectAfterMessages { get; init; } = ulong.MaxValue - (1UL << 13);

    /// <summary>REKEY_AFTER_TIME: the initiator rekeys a session this old when it sends. Defaults to 120 s.</summary>
    public TimeSpan RekeyAfterTime { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>REJECT_AFTER_TIME: a keypair this old is never used. Defaults to 180 s.</summary>
    public TimeSpan RejectAfterTime { get; init; } = TimeSpan.FromSeconds(180);

    /// <summary>REKEY_ATTEMPT_TIME: retransmitting initiations stops after this. Defaults to 90 s.</summary>
    public TimeSpan RekeyAttemptTime { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>REKEY_TIMEOUT: an unanswered initiation is retransmitted after this (plus jitter). Defaults to 5 s.</summary>
    public TimeSpan RekeyTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Upper bound of the random jitter added to REKEY_TIMEOUT. Defaults to 333 ms.</summary>
    public TimeSpan RekeyTimeoutJitterMax { get; init; } = TimeSpan.FromMilliseconds(333);

    /// <summary>KEEPALIVE_TIMEOUT: a keepalive follows received data when we had nothing to send for this long. Defaults to 10 s.</summary>
    public TimeSpan KeepaliveTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>COOKIE_REFRESH_TIME: cookie secrets and received cookies live this long. Defaults to 120 s.</summary>
    public TimeSpan CookieRefreshTime { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Initiations accepted from one peer at most this often (wireguard-go: 1/50 s). Defaults to 20 ms.</summary>
    public TimeSpan HandshakeInitiationRate { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Handshake messages per second above which the device is "under load" and demands cookies. Defaults to 128.</summary>
    public int UnderLoadHandshakesPerSecond { get; init; } = 128;

    /// <summary>How long the device stays under load after the rate drops (wireguard-go: 1 s). Defaults to 1 s.</summary>
    public TimeSpan UnderLoadAfterTime { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the timer loop runs. Defaults to 100 ms.</summary>
    public TimeSpan TimerTick { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Packets queued per peer while a handshake is pending (wireguard-go: 128). Defaults to 128.</summary>
    public int MaxStagedPackets { get; init; } = 128;

    /// <summary>Initiation retransmissions before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT (18).</summary>
    public int MaxHandshakeAttempts => (int)(RekeyAttemptTime.Ticks / RekeyTimeout.Ticks);
}
