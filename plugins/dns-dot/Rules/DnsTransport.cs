namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>How a query reached the gateway.</summary>
public enum DnsTransport
{
    /// <summary>UDP, on a host socket or a virtual endpoint.</summary>
    Udp,

    /// <summary>TCP (RFC 7766), on a host socket or a virtual endpoint.</summary>
    Tcp,
}
