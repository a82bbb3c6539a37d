using Gateway.Plugins.WireGuard.Device;
using Gateway.Plugins.WireGuard.Noise;

namespace Gateway.Tests.WireGuard;

public sealed class DeviceTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    [Fact]
    public void Send_FirstPacket_HandshakeThenPacketDeliveredBothWays()
    {
        var link = new DeviceLink(new FakeTime());
        byte[] packet = DeviceLink.Packet("10.99.0.1", "10.99.0.2");
        link.A.Send(packet);
        link.Pump();

        Assert.Equal(MessageFormat.InitiationSize, link.Sent[0].Data.Length);
        Assert.Equal(MessageFormat.ResponseSize, link.Sent[1].Data.Length);
        Assert.Single(link.InboxB.Packets);
        Assert.Equal(packet, link.InboxB.Packets[0]);
        Assert.Equal(0, (link.Sent[2].Data.Length - MessageFormat.DataHeaderSize - MessageFormat.TagSize) % 16);

        link.B.Send(DeviceLink.Packet("10.99.0.2", "10.99.0.1"));
        link.Pump();
        Assert.Single(link.InboxA.Packets);
        Assert.NotEqual(0, link.PeerOfA.LastHandshakeUnixNanos);
        Assert.NotEqual(0, link.PeerOfB.LastHandshakeUnixNanos);
    }

    [Fact]
    public void ReceiveDatagram_SourceOutsidePeersAllowedIps_Dropped()
    {
        var link = new DeviceLink(new FakeTime());
        link.A.AllowedIps.Insert(Gateway.Sdk.Networking.IpPrefix.Parse("10.50.0.0/16"), link.PeerOfA);
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        long dropped = link.B.DroppedPackets;
        // A spoofs a source that B does not allow for A.
        link.A.Send(DeviceLink.Packet("10.50.0.9", "10.99.0.2"));
        link.Pump();
        Assert.Single(link.InboxB.Packets);
        Assert.Equal(dropped + 1, link.B.DroppedPackets);
    }

    [Fact]
    public void ReceiveDatagram_ReplayedInitiation_NoSecondResponse()
    {
        var link = new DeviceLink(new FakeTime());
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        byte[] initiation = link.Sent[0].Data;
        int responses = link.CountSent(MessageFormat.TypeResponse, toB: false);
        link.Time.Advance(Second);
        link.B.ReceiveDatagram((byte[])initiation.Clone(), DeviceLink.AddressA.Serialize());
        Assert.Equal(responses, link.CountSent(MessageFormat.TypeResponse, toB: false));
    }

    [Theory]
    [InlineData(1, 147)]
    [InlineData(2, 91)]
    [InlineData(3, 63)]
    [InlineData(4, 31)]
    [InlineData(9, 148)]
    public void ReceiveDatagram_MalformedMessage_CountedAndDropped(byte type, int length)
    {
        var link = new DeviceLink(new FakeTime());
        byte[] message = new byte[length];
        message[0] = type;
        link.B.ReceiveDatagram(message, DeviceLink.AddressA.Serialize());
        Assert.Equal(1, link.B.DroppedPackets);
        Assert.Empty(link.Sent);
    }

    [Fact]
    public void Tick_NoResponse_RetransmitsAfterRekeyTimeoutAndGivesUpAfterRekeyAttemptTime()
    {
        var link = new DeviceLink(new FakeTime());
        link.Drop = (_, toB) => true;
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        Assert.Equal(1, link.CountSent(MessageFormat.TypeInitiation, toB: true));
        link.Advance(TimeSpan.FromSeconds(4.9));
        Assert.Equal(1, link.CountSent(MessageFormat.TypeInitiation, toB: true));
        link.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Equal(2, link.CountSent(MessageFormat.TypeInitiation, toB: true));
        for (int i = 0; i < 260; i++)
        {
            link.Advance(TimeSpan.FromSeconds(0.5));
        }

        // 1 + MaxHandshakeAttempts (18) retransmissions, REKEY_ATTEMPT_TIME of 90 s, then silence.
        int total = link.CountSent(MessageFormat.TypeInitiation, toB: true);
        Assert.Equal(1 + WireGuardTimings.Default.MaxHandshakeAttempts + 1, total);
        Assert.Equal(0, link.PeerOfA.StagedCount);
    }

    [Fact]
    public void Tick_DataReceivedNothingSentBack_KeepaliveAfterKeepaliveTimeout()
    {
        var link = new DeviceLink(new FakeTime());
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        int before = link.Sent.Count(m => !m.ToB && m.Data.Length == MessageFormat.DataMinSize);
        link.Advance(TimeSpan.FromSeconds(9));
        link.Pump();
        Assert.Equal(before, link.Sent.Count(m => !m.ToB && m.Data.Length == MessageFormat.DataMinSize));
        link.Advance(TimeSpan.FromSeconds(1.1));
        link.Pump();
        Assert.Equal(before + 1, link.Sent.Count(m => !m.ToB && m.Data.Length == MessageFormat.DataMinSize));
    }

    [Fact]
    public void Send_SessionOlderThanRekeyAfterTime_InitiatorStartsNewHandshakeAndTrafficContinues()
    {
        var link = new DeviceLink(new FakeTime());
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        Keypair first = link.PeerOfA.Current!;
        link.Advance(TimeSpan.FromSeconds(121));
        link.Pump();
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        Assert.Equal(2, link.CountSent(MessageFormat.TypeInitiation, toB: true));
        Assert.NotSame(first, link.PeerOfA.Current);
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        Assert.Equal(3, link.InboxB.Packets.Count);
    }

    [Fact]
    public void Send_SessionOlderThanRejectAfterTime_NotUsedPacketQueuedForNewHandshake()
    {
        // Both sides notice the dead session at the same instant; different retransmit timeouts keep their
        // retries from crossing on the wire every time (real peers get that from the random jitter).
        var link = new DeviceLink(new FakeTime(), new WireGuardTimings { RekeyTimeoutJitterMax = TimeSpan.Zero }, new WireGuardTimings { RekeyTimeout = TimeSpan.FromSeconds(7) });
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        link.Drop = (_, _) => true;
        link.Advance(TimeSpan.FromSeconds(181));
        link.Pump();
        int data = link.CountSent(MessageFormat.TypeData, toB: true);
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        Assert.Equal(data, link.CountSent(MessageFormat.TypeData, toB: true));
        Assert.Equal(1, link.PeerOfA.StagedCount);
        link.Drop = null;
        for (int i = 0; i < 200 && link.InboxB.Packets.Count < 2; i++)
        {
            link.Advance(TimeSpan.FromMilliseconds(50));
            link.Pump();
        }

        Assert.Equal(2, link.InboxB.Packets.Count);
    }

    [Fact]
    public void Tick_RejectAfterTimeTimesThree_KeysErased()
    {
        var link = new DeviceLink(new FakeTime());
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        link.Drop = (_, _) => true;
        for (int i = 0; i < 541; i++)
        {
            link.Advance(Second);
        }

        Assert.Null(link.PeerOfA.Current);
        Assert.Null(link.PeerOfB.Current);
    }

    [Fact]
    public void ReceiveDatagram_UnderLoad_CookieReplyThenHandshakeWithMac2Succeeds()
    {
        var underLoad = new WireGuardTimings { UnderLoadHandshakesPerSecond = 0 };
        var link = new DeviceLink(new FakeTime(), new WireGuardTimings(), underLoad);
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        Assert.Equal(1, link.CountSent(MessageFormat.TypeCookieReply, toB: false));
        Assert.Equal(0, link.CountSent(MessageFormat.TypeResponse, toB: false));
        Assert.Empty(link.InboxB.Packets);

        // The retransmission carries mac2 from the cookie and is answered.
        link.Advance(TimeSpan.FromSeconds(5.5));
        link.Pump();
        byte[] retry = link.Sent.Last(m => m.ToB && m.Data[0] == MessageFormat.TypeInitiation).Data;
        Assert.Contains(retry.AsSpan(MessageFormat.InitiationMac2, 16).ToArray(), b => b != 0);
        Assert.Equal(1, link.CountSent(MessageFormat.TypeResponse, toB: false));
        Assert.Single(link.InboxB.Packets);
    }

    [Fact]
    public void Tick_PersistentKeepalive_SentEveryInterval()
    {
        var link = new DeviceLink(new FakeTime());
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        link.PeerOfB.SetPersistentKeepalive(25);
        link.Pump();
        int keepalives = link.Sent.Count(m => !m.ToB && m.Data.Length == MessageFormat.DataMinSize);
        for (int i = 0; i < 26; i++)
        {
            link.Advance(Second);
            link.Pump();
        }

        Assert.True(link.Sent.Count(m => !m.ToB && m.Data.Length == MessageFormat.DataMinSize) >= keepalives + 1);
    }

    [Fact]
    public void ReceiveDatagram_PeerSendsFromNewAddress_EndpointFollows()
    {
        var link = new DeviceLink(new FakeTime());
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        byte[] data = link.Sent.Last(m => m.ToB && m.Data[0] == MessageFormat.TypeData).Data;
        // Same session, new source: a genuine packet that arrives from elsewhere moves the endpoint.
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        byte[] next = link.Sent.Last(m => m.ToB && m.Data[0] == MessageFormat.TypeData).Data;
        var moved = new System.Net.IPEndPoint(System.Net.IPAddress.Parse("192.0.2.77"), 4000);
        link.B.ReceiveDatagram((byte[])next.Clone(), moved.Serialize());
        Assert.Equal("192.0.2.77:4000", link.PeerOfB.EndpointValue.ToString());
        // A forged packet from another address does not move it.
        byte[] forged = (byte[])data.Clone();
        forged[^1] ^= 1;
        link.B.ReceiveDatagram(forged, new System.Net.IPEndPoint(System.Net.IPAddress.Parse("192.0.2.99"), 5000).Serialize());
        Assert.Equal("192.0.2.77:4000", link.PeerOfB.EndpointValue.ToString());
    }

    [Fact]
    public void UpdateEndpoint_SameAddressInALargerReceiveBuffer_KeepsTheEndpoint()
    {
        var link = new DeviceLink(new FakeTime());
        link.PeerOfB.UpdateEndpoint(DeviceLink.AddressA.Serialize());
        System.Net.SocketAddress kept = link.PeerOfB.Endpoint!;

        // recvmmsg fills a 28-byte sockaddr buffer and sets Size to 16 for IPv4: the same endpoint, not a roam.
        var received = new System.Net.SocketAddress(System.Net.Sockets.AddressFamily.InterNetwork, 28);
        DeviceLink.AddressA.Serialize().Buffer.Span[..16].CopyTo(received.Buffer.Span);
        received.Size = 16;
        link.PeerOfB.UpdateEndpoint(received);

        Assert.Same(kept, link.PeerOfB.Endpoint);
    }
}
