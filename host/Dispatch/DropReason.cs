namespace Gateway.Host.Dispatch;

/// <summary>Why the dispatcher dropped a packet; the tag value of the <c>gateway.tun.dropped</c> counter.</summary>
internal enum DropReason
{
    /// <summary>The version nibble is neither 4 nor 6.</summary>
    BadVersion,

    /// <summary>The IPv4 header length is invalid.</summary>
    BadHeaderLength,

    /// <summary>The IP length field disagrees with the bytes received.</summary>
    BadLength,

    /// <summary>The packet ends inside a header.</summary>
    Truncated,

    /// <summary>A fragment addressed to a virtual IP (the gateway does not reassemble).</summary>
    Fragment,

    /// <summary>An inconsistent TCP or UDP header.</summary>
    BadTransportHeader,

    /// <summary>An IP, UDP, TCP or ICMP checksum is wrong.</summary>
    BadChecksum,

    /// <summary>No virtual IP and no prefix route matches the destination.</summary>
    NoRoute,

    /// <summary>A packet hook (ACL) dropped it.</summary>
    Hook,

    /// <summary>A protocol or ICMP type the virtual IPs do not serve.</summary>
    Unsupported,

    /// <summary>A TCP segment of a NAT session that no longer exists.</summary>
    NatUnknown,

    /// <summary>No free NAT port (every port in use).</summary>
    NatExhausted,

    /// <summary>A SYN from a source holding host.tun.natMaxPerSource live NAT sessions, none of them half-open.</summary>
    NatSourceLimit,

    /// <summary>The TCP listener for this address family is not available (no TUN address of that family).</summary>
    NoListener,

    /// <summary>An ICMP error or RST was not sent because of the rate limit (RFC 4443 §2.4(f)).</summary>
    RateLimited,

    /// <summary>
    /// A packet to a closed port that must get no error back: an RST (RFC 9293 §3.10.7.1) or an ICMP error (RFC 1122
    /// §3.2.2); counted so that no packet vanishes (found by fuzzing).
    /// </summary>
    NoErrorReply,

    /// <summary>The device or route refused the write.</summary>
    WriteFailed,
}
