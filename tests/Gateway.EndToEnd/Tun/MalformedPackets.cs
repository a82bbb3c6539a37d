namespace Gateway.EndToEnd.Tun;

/// <summary>
/// The malformed-packet generator of the TUN tests: a python3 script that writes bad packets into the TUN through
/// AF_PACKET, so the dispatcher reads exactly those bytes — random bytes, truncated headers, bad lengths, bad header
/// lengths, bad checksums, fragments, bad TCP offsets, bad UDP lengths, and the same for IPv6 (payload length beyond
/// the packet, bad checksums, fragment headers, truncated TCP) when IPv6 addresses are given. Every packet is written:
/// a full transmit queue (ENOBUFS) is waited out and the packet written again, any other error fails the script. It
/// prints how many packets it wrote; every one of them must be counted as dropped.
/// </summary>
public static class MalformedPackets
{
    /// <summary>IPv4 packets of one round (the script writes 500 rounds, each also with one truncated IPv6 packet).</summary>
    public const int PerRoundV4 = 15;

    /// <summary>IPv6 packets of one round (when IPv6 addresses are given).</summary>
    public const int PerRoundV6 = 4;

    /// <summary>The script for TUN <paramref name="device"/>, packets from <paramref name="source"/> to a virtual endpoint.</summary>
    public static string Script(string device, string source, string destination, int port, string? sourceV6 = null, string? destinationV6 = null) => $$"""
            import socket, struct, random, os, time, errno
            random.seed(7)
            def csum(b):
                if len(b) % 2: b += b"\0"
                s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
                while s >> 16: s = (s & 0xffff) + (s >> 16)
                return (~s) & 0xffff
            def ip4(payload, proto=17, total=None, ihl=5, frag=0x4000, dst="{{destination}}", fix=True):
                total = 20 + len(payload) if total is None else total
                h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, frag, 64, proto, 0,
                                socket.inet_aton("{{source}}"), socket.inet_aton(dst))
                if fix:
                    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
                return h + payload
            def ip6(payload, nxt=17, plen=None):
                plen = len(payload) if plen is None else plen
                return struct.pack("!IHBB16s16s", 0x60000000, plen, nxt, 64,
                                   socket.inet_pton(socket.AF_INET6, "{{sourceV6 ?? "::1"}}"),
                                   socket.inet_pton(socket.AF_INET6, "{{destinationV6 ?? "::1"}}")) + payload
            udp_ok = struct.pack("!HHHH", 40000, {{port}}, 12, 0) + b"abcd"
            udp_badsum = struct.pack("!HHHH", 40000, {{port}}, 12, 0x1234) + b"abcd"
            udp_long = struct.pack("!HHHH", 40000, {{port}}, 400, 0) + b"abcd"       # UDP length beyond the packet
            udp_short = struct.pack("!HHHH", 40000, {{port}}, 4, 0) + b"abcd"        # UDP length below its header
            tcp_short = struct.pack("!HH", 40000, {{port}}) + b"\0" * 8
            tcp_badoff = struct.pack("!HHIIBBHHH", 40000, {{port}}, 1, 0, 0x30, 0x02, 1000, 0, 0)
            tcp_badsum = struct.pack("!HHIIBBHHH", 40000, {{port}}, 1, 0, 0x50, 0x02, 1000, 0x4321, 0)
            s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
            s.bind(("{{device}}", socket.htons(0x0800)))
            packets = []
            for i in range(500):
                packets.append(os.urandom(random.randint(1, 200)))                  # random bytes
                packets.append(ip4(udp_ok)[:random.randint(1, 27)])                 # truncated
                packets.append(ip4(udp_ok, total=1400))                             # total length beyond packet
                packets.append(ip4(udp_ok, total=10))                               # total length below the header
                packets.append(ip4(udp_ok, ihl=3))                                  # header length below 20
                packets.append(ip4(udp_ok, ihl=15))                                 # header length beyond packet
                packets.append(ip4(udp_badsum))                                     # bad UDP checksum
                packets.append(ip4(udp_ok, frag=0x2000))                            # first fragment
                packets.append(ip4(udp_ok, frag=0x0010))                            # later fragment
                packets.append(ip4(udp_ok, fix=False))                              # bad IP header checksum
                packets.append(ip4(udp_long))                                       # UDP length beyond packet
                packets.append(ip4(udp_short))                                      # UDP length below 8
                packets.append(ip4(tcp_short, proto=6))                             # truncated TCP header
                packets.append(ip4(tcp_badoff, proto=6))                            # TCP data offset 3
                packets.append(ip4(tcp_badsum, proto=6))                            # SYN with a bad checksum
                if {{(sourceV6 is null ? "False" : "True")}}:
                    packets.append(ip6(udp_ok, plen=1400))                          # payload length beyond packet
                    packets.append(ip6(udp_badsum))                                 # bad UDP checksum
                    packets.append(ip6(struct.pack("!BBHI", 17, 0, 0x0001, i) + udp_ok, nxt=44))  # first fragment
                    packets.append(ip6(tcp_short, nxt=6))                           # truncated TCP header
                packets.append(bytes([0x60]) + os.urandom(30))                      # truncated IPv6
            sent = 0
            for p in packets:
                for attempt in range(200):
                    try:
                        s.send(p)
                        sent += 1
                        break
                    except OSError as e:
                        # The TUN's transmit queue (500 packets) is full: let the gateway read, then write it again.
                        if e.errno != errno.ENOBUFS:
                            raise
                        time.sleep(0.01)
                else:
                    raise SystemExit("ENOBUFS for 2 s: the gateway stopped reading its TUN")
                if sent % 50 == 0:
                    time.sleep(0.005)
            assert sent == len(packets), (sent, len(packets))
            print(sent)
            """;

    /// <summary>How many packets <see cref="Script"/> writes.</summary>
    public static int Count(bool withV6) => 500 * (PerRoundV4 + 1 + (withV6 ? PerRoundV6 : 0));
}
