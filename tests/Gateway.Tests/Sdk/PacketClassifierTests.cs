using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;

namespace Gateway.Tests.Sdk;

public sealed class PacketClassifierTests
{
    [Fact]
    public void Classify_V4Udp_GivesAddressesPortsAndPayload()
    {
        byte[] packet = PacketVectors.Bytes(PacketVectors.V4Udp);
        Assert.Equal(PacketError.None, PacketClassifier.Classify(packet, out PacketInfo info));
        Assert.Equal(4, info.Version);
        Assert.Equal(NetAddress.Parse("10.0.0.1"), info.Source);
        Assert.Equal(NetAddress.Parse("10.0.0.53"), info.Destination);
        Assert.Equal(IpProtocol.Udp, info.Protocol);
        Assert.Equal(53000, info.SourcePort);
        Assert.Equal(53, info.DestinationPort);
        Assert.Equal(28, info.PayloadOffset);
        Assert.Equal(29, info.PayloadLength);
        Assert.Equal(0xab, packet[info.PayloadOffset]);
    }

    [Fact]
    public void Classify_V6Udp_GivesAddressesPortsAndPayload()
    {
        byte[] packet = PacketVectors.Bytes(PacketVectors.V6Udp);
        Assert.Equal(PacketError.None, PacketClassifier.Classify(packet, out PacketInfo info));
        Assert.Equal(6, info.Version);
        Assert.Equal(NetAddress.Parse("fd00::1"), info.Source);
        Assert.Equal(NetAddress.Parse("fd00::53"), info.Destination);
        Assert.Equal(53, info.DestinationPort);
        Assert.Equal(48, info.PayloadOffset);
    }

    [Fact]
    public void Classify_V4SynWithOptions_PayloadAfterOptions()
    {
        byte[] packet = PacketVectors.Bytes(PacketVectors.V4Syn);
        Assert.Equal(PacketError.None, PacketClassifier.Classify(packet, out PacketInfo info));
        Assert.Equal(IpProtocol.Tcp, info.Protocol);
        Assert.Equal(40000, info.SourcePort);
        Assert.Equal(80, info.DestinationPort);
        Assert.Equal(60, info.PayloadOffset);
        Assert.Equal(0, info.PayloadLength);
        Assert.Equal(TcpFlags.Syn, TcpHeader.Flags(packet.AsSpan(info.TransportOffset)));
    }

    [Fact]
    public void Classify_V6TcpBehindHopByHopHeader_SkipsExtension()
    {
        byte[] plain = PacketVectors.Bytes(PacketVectors.V6Tcp);
        // Insert an 8-byte hop-by-hop header (next header TCP, length 0, PadN) after the fixed header.
        byte[] packet = [.. plain.AsSpan(0, 40), 6, 0, 1, 4, 0, 0, 0, 0, .. plain.AsSpan(40)];
        packet[6] = IpProtocol.HopByHop;
        packet[5] += 8;
        Assert.Equal(PacketError.None, PacketClassifier.Classify(packet, out PacketInfo info));
        Assert.Equal(IpProtocol.Tcp, info.Protocol);
        Assert.Equal(48, info.TransportOffset);
        Assert.Equal(80, info.DestinationPort);
    }

    [Theory]
    [InlineData("", PacketError.Truncated)]
    [InlineData("50", PacketError.BadVersion)]
    [InlineData("4500003c", PacketError.Truncated)]
    public void Classify_ShortOrUnknown_Fails(string hex, PacketError expected) =>
        Assert.Equal(expected, PacketClassifier.Classify(Convert.FromHexString(hex), out _));

    [Fact]
    public void Classify_MalformedV4_FailsWithReason()
    {
        byte[] packet = PacketVectors.Bytes(PacketVectors.V4Udp);

        byte[] badIhl = (byte[])packet.Clone();
        badIhl[0] = 0x44;
        Assert.Equal(PacketError.BadHeaderLength, PacketClassifier.Classify(badIhl, out _));

        byte[] longTotal = (byte[])packet.Clone();
        longTotal[3] = 0xFF;
        Assert.Equal(PacketError.BadTotalLength, PacketClassifier.Classify(longTotal, out _));

        byte[] fragment = (byte[])packet.Clone();
        fragment[6] = 0x20; // more fragments
        Assert.Equal(PacketError.Fragment, PacketClassifier.Classify(fragment, out _));

        byte[] badUdpLength = (byte[])packet.Clone();
        badUdpLength[25] = 0xFF;
        Assert.Equal(PacketError.BadTransportHeader, PacketClassifier.Classify(badUdpLength, out _));

        Assert.Equal(PacketError.BadTotalLength, PacketClassifier.Classify(packet.AsSpan(0, 30), out _));
    }

    [Fact]
    public void Classify_MalformedTcpAndV6_FailsWithReason()
    {
        byte[] syn = PacketVectors.Bytes(PacketVectors.V4Syn);
        syn[32] = 0x30; // data offset 3
        Assert.Equal(PacketError.BadTransportHeader, PacketClassifier.Classify(syn, out _));

        byte[] v6 = PacketVectors.Bytes(PacketVectors.V6Tcp);
        v6[6] = IpProtocol.Fragment;
        Assert.Equal(PacketError.Fragment, PacketClassifier.Classify(v6, out _));
        Assert.Equal(PacketError.BadTotalLength, PacketClassifier.Classify(PacketVectors.Bytes(PacketVectors.V6Tcp).AsSpan(0, 60), out _));
    }

    [Fact]
    public void Classify_RandomBytes_NeverThrowsAndEveryVerdictIsWithinTheInput()
    {
        var random = new Random(42);
        byte[] buffer = new byte[128];
        int accepted = 0;
        for (int i = 0; i < 100_000; i++)
        {
            random.NextBytes(buffer);
            buffer[0] = (byte)((i % 3 == 0 ? 0x40 : i % 3 == 1 ? 0x60 : buffer[0]) | (buffer[0] & 0x0F));
            int length = random.Next(0, 129);
            PacketError error = PacketClassifier.Classify(buffer.AsSpan(0, length), out PacketInfo info);
            if (error == PacketError.None)
            {
                // A packet taken as valid never points past the bytes it came in: the dispatcher slices by these.
                accepted++;
                Assert.InRange(info.Length, 1, length);
                Assert.InRange(info.PayloadOffset, 0, info.Length);
                Assert.InRange(info.TransportOffset, 0, info.PayloadOffset);
            }
        }

        // Random bytes are overwhelmingly invalid, but the loop must also have exercised the accepting paths.
        Assert.InRange(accepted, 1, 99_999);
    }
}
