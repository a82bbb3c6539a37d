namespace Gateway.Plugins.DnsDot.Configuration;

/// <summary>
/// One upstream: DNS over TLS (RFC 7858, RFC 8310 strict profile), DNS over HTTPS (RFC 8484), or plain DNS over
/// UDP or TCP where the operator asks for it (a LAN resolver for split DNS).
/// </summary>
internal sealed class UpstreamOptions
{
    /// <summary>
    /// Where the upstream is, in dnsproxy's syntax: <c>tls://1.1.1.1:853</c> or <c>tls://dns.example</c> (DoT, port 853),
    /// <c>https://dns.example/dns-query</c> (DoH, port 443), <c>udp://192.168.1.1:53</c> and <c>tcp://192.168.1.1:53</c>
    /// (plain DNS, port 53); a bare "ip:port" is DoT. Host names are resolved through <c>bootstrap</c>. Required.
    /// Security: udp:// and tcp:// send queries in the clear and can be spoofed on the way; use them only towards
    /// resolvers on your own network (<c>gateway check</c> warns about public ones).
    /// </summary>
    public string? Address { get; set; }

    /// <summary>
    /// The authentication domain name (RFC 8310 §8) of tls:// and https:// upstreams: sent as SNI (and as the HTTP
    /// Host) and matched against the certificate. Defaults to the host name of the address; required when the address
    /// is an IP: without it nothing could be verified. Not allowed on udp:// and tcp://.
    /// </summary>
    public string? TlsName { get; set; }

    /// <summary>
    /// A PEM file of CA certificates trusted for this upstream instead of the system store (relative to
    /// the config file). Defaults to none (system trust store).
    /// </summary>
    public string? CaFile { get; set; }

    /// <summary>
    /// Optional base64 SHA-256 pins of the server's SubjectPublicKeyInfo (RFC 7858 §4.2). When set, a
    /// certificate chain must also contain one of these keys. Defaults to none.
    /// </summary>
    public List<string> SpkiPins { get; set; } = new();
}
