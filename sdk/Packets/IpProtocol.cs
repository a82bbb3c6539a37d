namespace Gateway.Sdk.Packets;

/// <summary>IP protocol numbers (IANA "Assigned Internet Protocol Numbers") the gateway understands.</summary>
public static class IpProtocol
{
    /// <summary>IPv6 Hop-by-Hop Options extension header (RFC 8200 §4.3).</summary>
    public const byte HopByHop = 0;

    /// <summary>ICMP for IPv4 (RFC 792).</summary>
    public const byte Icmp = 1;

    /// <summary>TCP (RFC 9293).</summary>
    public const byte Tcp = 6;

    /// <summary>UDP (RFC 768).</summary>
    public const byte Udp = 17;

    /// <summary>IPv6 Routing extension header (RFC 8200 §4.4).</summary>
    public const byte Routing = 43;

    /// <summary>IPv6 Fragment extension header (RFC 8200 §4.5).</summary>
    public const byte Fragment = 44;

    /// <summary>ICMP for IPv6 (RFC 4443).</summary>
    public const byte IcmpV6 = 58;

    /// <summary>IPv6 "No Next Header" (RFC 8200 §4.7).</summary>
    public const byte NoNextHeader = 59;

    /// <summary>IPv6 Destination Options extension header (RFC 8200 §4.6).</summary>
    public const byte DestinationOptions = 60;
}
