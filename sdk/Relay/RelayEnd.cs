namespace Gateway.Sdk.Relay;

/// <summary>How a <see cref="StreamRelay"/> ended.</summary>
public enum RelayEnd
{
    /// <summary>Both sides closed their sending direction (FIN both ways); every byte was delivered.</summary>
    Completed,

    /// <summary>Nothing moved in either direction for the idle timeout; both sockets were closed (FIN).</summary>
    IdleTimeout,

    /// <summary>The client's side failed (reset, or an error sending to it); the upstream side was reset (RST).</summary>
    ClientAborted,

    /// <summary>The upstream side failed (reset, or an error sending to it); the client side was reset (RST).</summary>
    UpstreamAborted,

    /// <summary>The caller's token was cancelled (the plugin is stopping); both sides were reset (RST).</summary>
    Canceled,
}
