using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.WireGuard.Conn;
using Gateway.Plugins.WireGuard.Crypto;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.WireGuard;

/// <summary>
/// Issue 13, "threads that die": the dedicated UDP receive thread and the timer meet an exception from a path that
/// throws (injected here), count it, and go on. Without the guards the first throw ends the thread, or the process.
/// </summary>
public sealed class LoopSurvivalTests
{
    private const byte Poison = 0xEE;

    [Fact]
    public async Task ReceiveLoop_DeliveryThrowsForOnePacket_LaterPacketsStillDelivered()
    {
        var inboxB = new PoisonedInbox();
        var a = new WireGuardDevice(Curve25519.GeneratePrivateKey(), new PoisonedInbox(), NullLogger.Instance);
        var b = new WireGuardDevice(Curve25519.GeneratePrivateKey(), inboxB, NullLogger.Instance);
        Socket socketA = UdpTransport.CreateSocket(AddressFamily.InterNetwork);
        socketA.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Socket socketB = UdpTransport.CreateSocket(AddressFamily.InterNetwork);
        socketB.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Peer peerOfA = a.AddPeer(b.Identity.PublicKey);
        peerOfA.SetEndpoint(NetEndpoint.FromIPEndPoint((IPEndPoint)socketB.LocalEndPoint!));
        a.AllowedIps.Insert(IpPrefix.Parse("10.99.0.2/32"), peerOfA);
        Peer peerOfB = b.AddPeer(a.Identity.PublicKey);
        peerOfB.SetEndpoint(NetEndpoint.FromIPEndPoint((IPEndPoint)socketA.LocalEndPoint!));
        b.AllowedIps.Insert(IpPrefix.Parse("10.99.0.1/32"), peerOfB);
        using var transportA = new UdpTransport(a, socketA, null, NullLogger.Instance);
        using var transportB = new UdpTransport(b, socketB, null, NullLogger.Instance);
        a.Start(transportA, runTimers: false);
        b.Start(transportB, runTimers: false);
        transportA.Start();
        transportB.Start();
        try
        {
            a.Send(Packet(1));
            await WaitAsync(() => inboxB.Delivered.Count >= 1);

            // The poisoned packet throws inside delivery on B's receive thread; every packet after it must arrive.
            a.Send(Packet(Poison));
            await WaitAsync(() => b.LoopFailures.Count >= 1);
            for (byte i = 2; i <= 11; i++)
            {
                a.Send(Packet(i));
            }

            await WaitAsync(() => inboxB.Delivered.Count >= 11);
            Assert.Equal(Enumerable.Range(1, 11).Select(i => (byte)i), inboxB.Delivered);
            Assert.Equal(1, b.LoopFailures.Count);
        }
        finally
        {
            a.Dispose();
            b.Dispose();
        }
    }

    [Fact]
    public async Task Timer_SendThrowsOnTimerThread_TimerKeepsTicking()
    {
        var timings = new WireGuardTimings
        {
            TimerTick = TimeSpan.FromMilliseconds(10),
            RekeyTimeout = TimeSpan.FromMilliseconds(100),
            RekeyTimeoutJitterMax = TimeSpan.FromMilliseconds(1),
        };
        var device = new WireGuardDevice(Curve25519.GeneratePrivateKey(), new PoisonedInbox(), NullLogger.Instance, timings: timings);
        Peer peer = device.AddPeer(Curve25519.PublicKey(Curve25519.GeneratePrivateKey()));
        peer.SetEndpoint(NetEndpoint.Parse("192.0.2.7:51820"));
        device.AllowedIps.Insert(IpPrefix.Parse("10.99.0.2/32"), peer);
        var sink = new ThrowingOnTimerSink();
        device.Start(sink);
        try
        {
            // Sent from this thread: the initiation goes out and arms the retransmit timer, whose send throws.
            sink.FromTest(() => device.Send(Packet(1)));
            await WaitAsync(() => device.LoopFailures.Count >= 1);

            // The timer survived: a second initiation arms it again, and it fires (and throws) again.
            await Task.Delay(timings.RekeyTimeout);
            sink.FromTest(() => device.Send(Packet(2)));
            await WaitAsync(() => device.LoopFailures.Count >= 2);
            Assert.True(sink.Sent >= 2, $"{sink.Sent} initiations sent from the test thread");
        }
        finally
        {
            device.Dispose();
        }
    }

    private static byte[] Packet(byte marker)
    {
        byte[] packet = DeviceLink.Packet("10.99.0.1", "10.99.0.2", 100);
        packet[20] = marker;
        return packet;
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 20 s");
            await Task.Delay(10);
        }
    }

    /// <summary>Records each delivered packet's marker byte; throws for the poison marker, as a handler with a bug would.</summary>
    private sealed class PoisonedInbox : IPacketInjector
    {
        public List<byte> Delivered { get; } = new();

        public void Deliver(Span<byte> packet, IPacketRoute origin)
        {
            if (packet[20] == Poison)
            {
                throw new InvalidOperationException("injected failure");
            }

            lock (Delivered)
            {
                Delivered.Add(packet[20]);
            }
        }

        public void Flush()
        {
        }
    }

    /// <summary>A sink that works for sends the test makes itself and throws for every other caller (the timer).</summary>
    private sealed class ThrowingOnTimerSink : IDatagramSink
    {
        [ThreadStatic]
        private static bool t_fromTest;

        private int _sent;

        public int Sent => Volatile.Read(ref _sent);

        public void FromTest(Action send)
        {
            t_fromTest = true;
            try
            {
                send();
            }
            finally
            {
                t_fromTest = false;
            }
        }

        public bool Send(ReadOnlySpan<byte> datagram, SocketAddress destination)
        {
            if (!t_fromTest)
            {
                throw new InvalidOperationException("injected failure");
            }

            Interlocked.Increment(ref _sent);
            return true;
        }
    }
}
