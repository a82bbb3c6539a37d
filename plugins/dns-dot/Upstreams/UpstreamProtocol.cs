namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>How an upstream is asked (the scheme of its address).</summary>
internal enum UpstreamProtocol
{
    /// <summary><c>udp://</c>: plain DNS over UDP (RFC 1035), retried over TCP when truncated.</summary>
    Udp,

    /// <summary><c>tcp://</c>: plain DNS over TCP (RFC 7766), pipelined.</summary>
    Tcp,

    /// <summary><c>tls://</c> or a bare ip:port: DNS over TLS (RFC 7858, RFC 8310 strict profile).</summary>
    Tls,

    /// <summary><c>https://</c>: DNS over HTTPS (RFC 8484).</summary>
    Https,
}
