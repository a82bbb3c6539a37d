namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>How a query reached the gateway.</summary>
public enum DnsTransport
{
    /// <summary>UDP, on a host socket or a virtual endpoint.</summary>
    Udp,

    /// <summary>TCP (RFC 7766), on a host socket or a virtual endpoint.</summary>
    Tcp,

    /// <summary>DNS over TLS (RFC 7858) on <c>listenTls</c> or <c>virtualTls</c>.</summary>
    Tls,

    /// <summary>DNS over HTTPS (RFC 8484) on <c>listenHttps</c> or <c>virtualHttps</c>.</summary>
    Https,

    /// <summary>Asked in-process by another plugin through the gateway's name resolver (<c>IPluginContext.NameResolver</c>).</summary>
    Internal,
}
