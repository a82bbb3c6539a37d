namespace Gateway.EndToEnd.Tun;

/// <summary>
/// The malformed-packet generator of the TUN tests: a python3 script that writes 5,500 bad packets (random
/// bytes, truncated headers, bad lengths, bad header lengths, bad checksums, fragments, bad TCP offsets,
/// truncated IPv6) into the TUN through AF_PACKET, so the dispatcher reads exactly those bytes; prints how
/// many were written. Every one of them must be counted as dropped.
/// </summary>
public static class MalformedPackets
{
    /// <summary>The script for TUN <paramref name="device"/>, packets from <paramref name="source"/> to a virtual endpoint.</summary>
    public static string Script(string device, string source, string destination, int port) => $$"""
            import socket, struct, random, os, time
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
            udp_ok = struct.pack("!HHHH", 40000, {{port}}, 12, 0) + b"abcd"
            udp_badsum = struct.pack("!HHHH", 40000, {{port}}, 12, 0x1234) + b"abcd"
            tcp_short = struct.pack("!HH", 40000, {{port}}) + b"\0" * 8
            tcp_badoff = struct.pack("!HHIIBBHHH", 40000, {{port}}, 1, 0, 0x30, 0x02, 1000, 0, 0)
            s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
            s.bind(("{{device}}", socket.htons(0x0800)))
            packets = []
            for i in range(500):
                packets.append(os.urandom(random.randint(1, 200)))                  # random bytes
                packets.append(ip4(udp_ok)[:random.randint(1, 27)])                 # truncated
                packets.append(ip4(udp_ok, total=1400))                             # total length beyond packet
                packets.append(ip4(udp_ok, ihl=3))                                  # header length below 20
                packets.append(ip4(udp_badsum))                                     # bad UDP checksum
                packets.append(ip4(udp_ok, frag=0x2000))                            # first fragment
                packets.append(ip4(udp_ok, frag=0x0010))                            # later fragment
                packets.append(ip4(udp_ok, fix=False))                              # bad IP header checksum
                packets.append(ip4(tcp_short, proto=6))                             # truncated TCP header
                packets.append(ip4(tcp_badoff, proto=6))                            # TCP data offset 3
                packets.append(bytes([0x60]) + os.urandom(30))                      # truncated IPv6
            sent = 0
            for i, p in enumerate(packets):
                try:
                    s.send(p)
                    sent += 1
                except OSError:
                    pass
                if i % 50 == 49:
                    time.sleep(0.005)   # stay below the TUN transmit queue (500 packets), which would drop silently
            print(sent)
            """;
}
