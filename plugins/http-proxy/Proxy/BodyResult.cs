namespace Gateway.Plugins.HttpProxy.Proxy;

/// <summary>How a streamed body ended.</summary>
internal enum BodyResult : byte
{
    /// <summary>Every byte of the body was relayed.</summary>
    Complete,

    /// <summary>The sender closed its side before the body ended.</summary>
    Truncated,

    /// <summary>Bad chunked framing (RFC 9112 §7.1).</summary>
    Invalid,
}
