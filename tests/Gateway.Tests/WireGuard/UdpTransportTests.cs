using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.WireGuard.Conn;
using Gateway.Plugins.WireGuard.Crypto;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.WireGuard;

/// <summary>The batched UDP path (sendmmsg with UDP GSO, recvmmsg with UDP GRO) over real loopback sockets.</summary>
public sealed class UdpTransportTests
{
    [Fact]
    public void SendBatch_EqualSizeDatagramsToOnePeer_ArriveOneByOneIntact()
    {
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        receiver.ReceiveTimeout = 10000;
        SocketAddress destination = receiver.LocalEndPoint!.Serialize();
        var device = new WireGuardDevice(Curve25519.GeneratePrivateKey(), new CountingInbox(), NullLogger.Instance);
        Socket v4 = UdpTransport.CreateSocket(AddressFamily.InterNetwork);
        UdpTransport.Bind(v4, 0);
        using var transport = new UdpTransport(device, v4, null, NullLogger.Instance);
        using var batch = new SendBatch();

        // 20 datagrams of 1200 bytes and a shorter last one: one GSO buffer where the kernel has UDP_SEGMENT.
        for (int i = 0; i < 21; i++)
        {
            int length = i == 20 ? 300 : 1200;
            Span<byte> space = batch.Reserve(length);
            space.Fill((byte)i);
            batch.Commit(length, destination);
        }

        long sent = transport.SendBatch(batch);

        Assert.Equal(20 * 1200 + 300, sent);
        Assert.Equal(0, batch.Count);
        byte[] buffer = new byte[2048];
        for (int i = 0; i < 21; i++)
        {
            int length = receiver.Receive(buffer);
            Assert.Equal(i == 20 ? 300 : 1200, length);
            Assert.True(buffer.AsSpan(0, length).IndexOfAnyExcept((byte)i) < 0, $"datagram {i} has foreign bytes");
        }
    }

    [Fact]
    public async Task Send_ThousandPacketsBetweenTwoDevicesOverLoopback_AllDeliveredInOrder()
    {
        var inboxA = new CountingInbox();
        var inboxB = new CountingInbox();
        var a = new WireGuardDevice(Curve25519.GeneratePrivateKey(), inboxA, NullLogger.Instance);
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
        a.BatchSends = true;
        b.BatchSends = true;
        using var transportA = new UdpTransport(a, socketA, null, NullLogger.Instance);
        using var transportB = new UdpTransport(b, socketB, null, NullLogger.Instance);
        a.Start(transportA, runTimers: false);
        b.Start(transportB, runTimers: false);
        transportA.Start();
        transportB.Start();
        try
        {
            // The first packet waits for the handshake.
            a.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2", 1000));
            a.Flush();
            await inboxB.WaitForAsync(1, TimeSpan.FromSeconds(20));

            const int Count = 1000;
            for (int i = 1; i <= Count; i++)
            {
                byte[] packet = DeviceLink.Packet("10.99.0.1", "10.99.0.2", 1000);
                packet[20] = (byte)i;
                packet[21] = (byte)(i >> 8);
                a.Send(packet);
                if (i % 50 == 0)
                {
                    a.Flush();

                    // Let the receiver keep up: the socket buffer is large, but this is a shared CI box.
                    await inboxB.WaitForAsync(1 + i - 50, TimeSpan.FromSeconds(20));
                }
            }

            a.Flush();
            await inboxB.WaitForAsync(Count + 1, TimeSpan.FromSeconds(20));
            Assert.Equal(Count + 1, inboxB.Count);
            Assert.Equal(Enumerable.Range(0, Count + 1).ToArray(), inboxB.Sequence.ToArray());
            Assert.Equal(0, b.DroppedPackets);
            Assert.Equal(Count + 1, peerOfB.RxPackets - 1);
        }
        finally
        {
            a.Dispose();
            b.Dispose();
        }
    }

    private sealed class CountingInbox : IPacketInjector
    {
        private int _count;

        public List<int> Sequence { get; } = new();

        public int Count => Volatile.Read(ref _count);

        public void Deliver(Span<byte> packet, IPacketRoute origin)
        {
            lock (Sequence)
            {
                Sequence.Add(packet.Length >= 22 ? packet[20] | (packet[21] << 8) : -1);
            }

            Interlocked.Increment(ref _count);
        }

        public void Flush()
        {
        }

        public async Task WaitForAsync(int count, TimeSpan timeout)
        {
            DateTime deadline = DateTime.UtcNow + timeout;
            while (Count < count && DateTime.UtcNow < deadline)
            {
                await Task.Delay(10);
            }
        }
    }
}
