using System.Net;
using Gateway.Plugins.WireGuard.Conn;
using Gateway.Plugins.WireGuard.Crypto;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Plugins.WireGuard.Noise;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.WireGuard;

/// <summary>
/// Two of our devices joined by an in-memory "wire": datagrams queue up until <see cref="Pump"/> delivers them,
/// so a test sees and can drop every message. Addresses are documentation addresses used only as values.
/// </summary>
internal sealed class DeviceLink
{
    public static readonly IPEndPoint AddressA = new(IPAddress.Parse("192.0.2.1"), 51820);
    public static readonly IPEndPoint AddressB = new(IPAddress.Parse("192.0.2.2"), 51821);

    private readonly Queue<(byte[] Data, bool ToB)> _wire = new();

    public DeviceLink(FakeTime time, WireGuardTimings? timings = null, WireGuardTimings? timingsB = null)
    {
        Time = time;
        A = new WireGuardDevice(Curve25519.GeneratePrivateKey(), InboxA, NullLogger.Instance, time, timings);
        B = new WireGuardDevice(Curve25519.GeneratePrivateKey(), InboxB, NullLogger.Instance, time, timingsB ?? timings);
        PeerOfA = A.AddPeer(B.Identity.PublicKey);
        PeerOfA.SetEndpoint(NetEndpoint.FromIPEndPoint(AddressB));
        A.AllowedIps.Insert(IpPrefix.Parse("10.99.0.2/32"), PeerOfA);
        PeerOfB = B.AddPeer(A.Identity.PublicKey);
        PeerOfB.SetEndpoint(NetEndpoint.FromIPEndPoint(AddressA));
        B.AllowedIps.Insert(IpPrefix.Parse("10.99.0.1/32"), PeerOfB);
        A.Start(new Sink(this, toB: true), runTimers: false);
        B.Start(new Sink(this, toB: false), runTimers: false);
    }

    public FakeTime Time { get; }

    public WireGuardDevice A { get; }

    public WireGuardDevice B { get; }

    public Peer PeerOfA { get; }

    public Peer PeerOfB { get; }

    public Inbox InboxA { get; } = new();

    public Inbox InboxB { get; } = new();

    /// <summary>Every datagram sent so far, in order, with its direction.</summary>
    public List<(byte[] Data, bool ToB)> Sent { get; } = new();

    /// <summary>Datagrams for which this returns true are lost on the wire.</summary>
    public Func<byte[], bool, bool>? Drop { get; set; }

    /// <summary>Delivers queued datagrams (and those their handling sends) until the wire is empty.</summary>
    public int Pump(int limit = 1000)
    {
        int delivered = 0;
        while (_wire.Count > 0 && delivered < limit)
        {
            (byte[] data, bool toB) = _wire.Dequeue();
            if (Drop?.Invoke(data, toB) == true)
            {
                continue;
            }

            delivered++;
            if (toB)
            {
                B.ReceiveDatagram(data, AddressA.Serialize());
                B.EndReceiveBatch();
            }
            else
            {
                A.ReceiveDatagram(data, AddressB.Serialize());
                A.EndReceiveBatch();
            }
        }

        return delivered;
    }

    /// <summary>Advances the clock and runs both devices' timers.</summary>
    public void Advance(TimeSpan by)
    {
        Time.Advance(by);
        A.Tick();
        B.Tick();
    }

    /// <summary>Count of sent messages of a type.</summary>
    public int CountSent(uint type, bool toB) => Sent.Count(m => m.ToB == toB && m.Data[0] == type);

    public static byte[] Packet(string source, string destination, int payload = 40)
    {
        byte[] p = new byte[20 + payload];
        p[0] = 0x45;
        p[2] = (byte)(p.Length >> 8);
        p[3] = (byte)p.Length;
        p[8] = 64;
        p[9] = 17;
        NetAddress.Parse(source).WriteTo(p.AsSpan(12));
        NetAddress.Parse(destination).WriteTo(p.AsSpan(16));
        return p;
    }

    internal sealed class Inbox : IPacketInjector
    {
        public List<byte[]> Packets { get; } = new();

        public void Deliver(Span<byte> packet, IPacketRoute origin) => Packets.Add(packet.ToArray());

        public void Flush()
        {
        }
    }

    private sealed class Sink(DeviceLink link, bool toB) : IDatagramSink
    {
        public bool Send(ReadOnlySpan<byte> datagram, SocketAddress destination)
        {
            byte[] copy = datagram.ToArray();
            link.Sent.Add((copy, toB));
            link._wire.Enqueue((copy, toB));
            return true;
        }
    }
}
