namespace Gateway.Plugins.DnsDot.Filtering;

/// <summary>How a blocked name is answered (<c>blockingMode:</c>).</summary>
internal enum BlockingMode
{
    /// <summary>NXDOMAIN (the default): the name does not exist.</summary>
    NxDomain,

    /// <summary>0.0.0.0 for A, :: for AAAA, NODATA for other types (AdGuard Home's "null IP").</summary>
    NullIp,

    /// <summary>REFUSED.</summary>
    Refused,

    /// <summary>The configured <c>blockingIps</c> for A/AAAA (a block page), NODATA for other types.</summary>
    CustomIp,
}
