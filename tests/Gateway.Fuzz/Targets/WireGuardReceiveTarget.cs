using System.Buffers.Binary;
using System.Net;
using Gateway.Plugins.WireGuard.Conn;
using Gateway.Plugins.WireGuard.Crypto;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Plugins.WireGuard.Noise;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging.Abstractions;
using static Gateway.Fuzz.FuzzInvariantException;

namespace Gateway.Fuzz.Targets;

/// <summary>
/// WireGuard's receive path (plugins/wireguard/Device/WireGuardDevice.ReceiveDatagram) on a device B whose one peer A
/// has a fixed static key; B runs in memory on a clock that does not move, and A's peer state is made afresh for
/// every input (so an input's outcome does not depend on the ones before it). The first input byte picks the mode:
/// <list type="bullet">
/// <item>0: the rest is a datagram from the network, as it is (type, length and index checks, mac1).</item>
/// <item>1: the same, with the type field and length of a handshake message and mac1 made valid, so the bytes reach
/// the Noise code (decryption of the static key, timestamps, response and cookie handling).</item>
/// <item>2: B holds a session with A (as after a handshake B answered, keys fixed); the rest is sealed in that
/// session as a data message's plaintext, so it reaches the inner-packet checks (IP lengths, cryptokey routing).</item>
/// <item>3: as 2, but A's data message keeps only its receiver index: counter and ciphertext are the rest (replay
/// window, forgeries).</item>
/// </list>
/// Bit 7 puts B under load (cookie replies instead of handshakes, whitepaper §5.4.7).
/// </summary>
/// <remarks>
/// Invariants: no datagram throws or goes unaccounted (each is dropped and counted, answered, authenticated or
/// delivered); what B delivers to the host is a whole IP packet from an address A may use (cryptokey routing,
/// whitepaper §2); after any datagram the session still carries A's next packet. The session is installed the way
/// WireGuardDevice.ReceiveInitiation installs one (Keypair, IndexTable, Peer.BeginSession), without the DH work,
/// so the target runs thousands of inputs a second.
/// </remarks>
internal sealed class WireGuardReceiveTarget : IFuzzTarget
{
    private static readonly SocketAddress AddressA = new IPEndPoint(IPAddress.Parse("192.0.2.1"), 51820).Serialize();
    private static readonly NetEndpoint EndpointA = NetEndpoint.Parse("192.0.2.1:51820");
    private static readonly byte[] SendKeyA = Enumerable.Repeat((byte)0x5A, 32).ToArray();
    private static readonly byte[] SendKeyB = Enumerable.Repeat((byte)0xB5, 32).ToArray();
    private const uint IndexOfA = 0x0A0A0A0A;

    private readonly byte[] _message = new byte[WireGuardDevice.MaxMessageSize];
    private readonly Side _normal = new(null);
    private readonly Side _loaded = new(new WireGuardTimings { UnderLoadHandshakesPerSecond = 0 });

    public string Name => "wireguard";

    public string Description => "WireGuard receive path: handshake/cookie/data messages, cryptokey routing, tunnel survives";

    public void Run(ReadOnlySpan<byte> input)
    {
        // An empty input is an empty datagram (afl-fuzz refuses a target whose first run covers nothing).
        int mode = input.IsEmpty ? 0 : input[0] & 3;
        Side b = !input.IsEmpty && (input[0] & 0x80) != 0 ? _loaded : _normal;
        ReadOnlySpan<byte> rest = input.IsEmpty ? default : input[1..];
        b.Reset();
        using Keypair? sender = mode >= 2 ? b.InstallSession() : null;

        Span<byte> message;
        switch (mode)
        {
            case 0:
                message = _message.AsSpan(0, Math.Min(rest.Length, _message.Length));
                rest[..message.Length].CopyTo(message);
                break;
            case 1:
                message = HandshakeShaped(rest, b.Device.Identity);
                break;
            case 2:
                message = Seal(sender!, rest);
                break;
            default:
                message = Seal(sender!, DnsLikePacket);
                int replaced = Math.Min(rest.Length, message.Length - MessageFormat.DataCounter);
                rest[..replaced].CopyTo(message[MessageFormat.DataCounter..]);
                break;
        }

        b.Deliver(message);
        if (mode >= 2)
        {
            // The session survives whatever came before: A's next packet arrives, unchanged.
            int delivered = b.Inbox.Packets.Count;
            byte[] canary = DnsLikePacket.ToArray();
            canary[^1] ^= 0x5A;
            b.Deliver(Seal(sender!, canary));
            Check(b.Inbox.Packets.Count == delivered + 1 && b.Inbox.Packets[^1].AsSpan().SequenceEqual(canary), "the session stopped carrying A's packets");
        }
    }

    /// <summary>A UDP packet from A's tunnel address 10.99.0.1 to B's 10.99.0.2.</summary>
    private static ReadOnlySpan<byte> DnsLikePacket =>
    [
        0x45, 0, 0, 40, 0, 1, 0, 0, 64, 17, 0, 0, 10, 99, 0, 1, 10, 99, 0, 2,
        0xC0, 0x01, 0, 53, 0, 20, 0, 0, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
    ];

    private Span<byte> HandshakeShaped(ReadOnlySpan<byte> rest, LocalIdentity responder)
    {
        // The length picks the type (so the fuzzer can reach each), the body is the input, mac1 is made to verify.
        (uint type, int size, int mac1) = (rest.IsEmpty ? 0 : rest[0] % 3) switch
        {
            0 => (MessageFormat.TypeInitiation, MessageFormat.InitiationSize, MessageFormat.InitiationMac1),
            1 => (MessageFormat.TypeResponse, MessageFormat.ResponseSize, MessageFormat.ResponseMac1),
            _ => (MessageFormat.TypeCookieReply, MessageFormat.CookieReplySize, -1),
        };
        Span<byte> message = _message.AsSpan(0, size);
        message.Clear();
        rest[..Math.Min(rest.Length, size)].CopyTo(message);
        BinaryPrimitives.WriteUInt32LittleEndian(message, type);
        if (mac1 > 0)
        {
            Blake2s.Mac(responder.Mac1Key, message[..mac1], message.Slice(mac1, 16));
        }

        return message;
    }

    private Span<byte> Seal(Keypair sender, ReadOnlySpan<byte> plaintext)
    {
        int length = Math.Min(plaintext.Length, _message.Length - MessageFormat.DataHeaderSize - MessageFormat.TagSize);
        return _message.AsSpan(0, sender.Seal(_message, plaintext[..length], ulong.MaxValue, out _));
    }

    /// <summary>Device B with peer A, made once (its identity costs a scalar multiplication); A's peer state is made anew per input.</summary>
    private sealed class Side
    {
        private static readonly byte[] PrivateA = FixedKey(0xA1);
        private static readonly byte[] PublicA = new LocalIdentity(PrivateA).PublicKey;
        private Peer? _peer;

        public Side(WireGuardTimings? timings)
        {
            Device = new WireGuardDevice(FixedKey(0xB2), Inbox, NullLogger.Instance, new FrozenTime(), timings);
            Device.Start(new Sink(this), runTimers: false);
        }

        public WireGuardDevice Device { get; }

        public Inbox Inbox { get; } = new();

        public int Sent { get; private set; }

        /// <summary>Forgets everything about A (sessions, handshake, replay window) and adds it again.</summary>
        public void Reset()
        {
            if (_peer is not null)
            {
                Device.RemovePeer(_peer);
            }

            Inbox.Packets.Clear();
            _peer = Device.AddPeer(PublicA);
            _peer.SetEndpoint(EndpointA);
            Device.AllowedIps.Insert(IpPrefix.Parse("10.99.0.1/32"), _peer);
            Device.AllowedIps.Insert(IpPrefix.Parse("fd99::1/128"), _peer);
        }

        /// <summary>B's side of a session with A as ReceiveInitiation leaves it; returns A's side, to seal with.</summary>
        public Keypair InstallSession()
        {
            long now = Device.Time.GetTimestamp();
            uint index = Device.Indices.NewIndex(_peer!);
            var keypair = new Keypair(SendKeyB, SendKeyA, isInitiator: false, now, index, IndexOfA);
            Device.Indices.SetKeypair(index, _peer!, keypair);
            _peer!.BeginSession(keypair);
            return new Keypair(SendKeyA, SendKeyB, isInitiator: true, now, IndexOfA, index);
        }

        /// <summary>B receives one datagram; the invariants on what follows from it.</summary>
        public void Deliver(Span<byte> datagram)
        {
            long dropped = Device.DroppedPackets, received = _peer!.RxBytes;
            int delivered = Inbox.Packets.Count, sent = Sent;
            Device.ReceiveDatagram(datagram, AddressA);
            Device.EndReceiveBatch();
            bool accounted = Device.DroppedPackets > dropped || Inbox.Packets.Count > delivered || Sent > sent || _peer.RxBytes > received;
            Check(accounted, "a datagram was neither dropped and counted, answered, authenticated nor delivered");
            for (int i = delivered; i < Inbox.Packets.Count; i++)
            {
                byte[] packet = Inbox.Packets[i];
                Check(packet.Length >= 20, "delivered a packet shorter than an IP header");
                int version = packet[0] >> 4;
                int ipLength = version == 4 ? IPv4Header.TotalLength(packet) : version == 6 && packet.Length >= 40 ? 40 + IPv6Header.PayloadLength(packet) : -1;
                Check(ipLength == packet.Length, "delivered bytes beyond (or short of) the IP packet's own length");
                NetAddress source = version == 4 ? NetAddress.FromV4(IPv4Header.Source(packet)) : IPv6Header.Source(packet);
                Check(source == NetAddress.Parse("10.99.0.1") || source == NetAddress.Parse("fd99::1"), $"delivered a packet from {source}, outside A's allowed IPs");
            }
        }

        private sealed class Sink(Side side) : IDatagramSink
        {
            public bool Send(ReadOnlySpan<byte> datagram, SocketAddress destination)
            {
                side.Sent++;
                return true;
            }
        }
    }

    private static byte[] FixedKey(byte fill)
    {
        byte[] key = new byte[32];
        key.AsSpan().Fill(fill);
        key[0] &= 248;
        key[31] = (byte)((key[31] & 127) | 64);
        return key;
    }

    private sealed class Inbox : IPacketInjector
    {
        public List<byte[]> Packets { get; } = [];

        public void Deliver(Span<byte> packet, IPacketRoute origin) => Packets.Add(packet.ToArray());

        public void Flush()
        {
        }
    }

    /// <summary>A clock that stands still: timers never fire, keys never expire within an input.</summary>
    private sealed class FrozenTime : TimeProvider
    {
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => TimeSpan.FromDays(1).Ticks;

        public override DateTimeOffset GetUtcNow() => new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
    }
}
