namespace Gateway.Plugins.DnsDot.Configuration;

/// <summary>
/// <c>dns-dot.dnstap</c>: dnstap (protobuf over Frame Streams) to a collector such as <c>fstrm_capture</c>,
/// dnstap-ldns or a SIEM's dnstap input: CLIENT_QUERY/CLIENT_RESPONSE for every client query and
/// FORWARDER_QUERY/FORWARDER_RESPONSE for upstream traffic. Either <see cref="Socket"/> or <see cref="Address"/>.
/// </summary>
internal sealed class DnstapOptions
{
    /// <summary>A Unix socket path the collector listens on.</summary>
    public string? Socket { get; set; }

    /// <summary>A TCP <c>ip:port</c> the collector listens on.</summary>
    public string? Address { get; set; }

    /// <summary>The identity field of each message. Defaults to the host name.</summary>
    public string? Identity { get; set; }
}
