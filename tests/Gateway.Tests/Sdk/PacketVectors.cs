namespace Gateway.Tests.Sdk;

/// <summary>
/// Known packets, assembled once with python3 (struct + an independent RFC 1071 checksum) and pasted as hex.
/// Each comment gives the checksum python computed; the tests verify it with our code.
/// </summary>
internal static class PacketVectors
{
    /// <summary>10.0.0.1:53000 → 10.0.0.53:53, DNS query example.com A; IP checksum 0x0a39, UDP checksum 0xa0f5.</summary>
    public const string V4Udp = "450000391c46400040110a390a0000010a000035cf0800350025a0f5abcd01000001000000000000076578616d706c6503636f6d0000010001";

    /// <summary>[fd00::1]:53000 → [fd00::53]:53, the same query; UDP checksum 0xbad5.</summary>
    public const string V6Udp = "6000000000251140fd000000000000000000000000000001fd000000000000000000000000000053cf0800350025bad5abcd01000001000000000000076578616d706c6503636f6d0000010001";

    /// <summary>10.0.0.1:40000 → 10.0.0.2:80 SYN with MSS/SACK/TS/WS options (data offset 10); TCP checksum 0x518e.</summary>
    public const string V4Syn = "4500003c1c46400040060a740a0000010a0000029c4000501234567800000000a002faf0518e0000020405b40402080a0001e2400000000001030307";

    /// <summary>[fd00::1]:40000 → [fd00::2]:80 PSH|ACK with an HTTP request line; TCP checksum 0x2cce.</summary>
    public const string V6Tcp = "6000000000260640fd000000000000000000000000000001fd0000000000000000000000000000029c400050000003e8000007d0501802002cce0000474554202f20485454502f312e300d0a0d0a";

    /// <summary>10.0.0.1 → 10.30.30.30 ICMP echo request id 0x1234 seq 1; ICMP checksum 0x26f8 (the reply's: 0x2ef8).</summary>
    public const string V4Ping = "450000441c4640004001ec360a0000010a1e1e1e080026f812340001101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";

    /// <summary>fd00::1 → fd30::30 ICMPv6 echo request id 0x4321 seq 7; checksum 0x4ebf (the reply's: 0x4dbf).</summary>
    public const string V6Ping = "6000000000183a40fd000000000000000000000000000001fd30000000000000000000000000003080004ebf4321000770696e6736207061796c6f6164212121";

    public static byte[] Bytes(string hex) => Convert.FromHexString(hex);
}
