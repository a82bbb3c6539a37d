namespace Gateway.Plugins.DnsDot.Configuration;

/// <summary>One DNS-over-TLS upstream (RFC 7858, RFC 8310 strict profile).</summary>
internal sealed class UpstreamOptions
{
    /// <summary>"ip:port" of the upstream, for example "1.1.1.1:853". Required.</summary>
    public string? Address { get; set; }

    /// <summary>
    /// The authentication domain name (RFC 8310 §8): sent as SNI and matched against the certificate.
    /// Required: without it nothing could be verified.
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
