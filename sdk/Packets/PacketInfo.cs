using Gateway.Sdk.Networking;

namespace Gateway.Sdk.Packets;

/// <summary>What <see cref="PacketClassifier.Classify"/> found in a well-formed packet; offsets are from the start of the IP header.</summary>
public readonly struct PacketInfo
{
    /// <summary>Created by <see cref="PacketClassifier"/>.</summary>
    public PacketInfo(byte version, NetAddress source, NetAddress destination, byte protocol, ushort sourcePort, ushort destinationPort, int transportOffset, int payloadOffset, int length)
    {
        Version = version;
        Source = source;
        Destination = destination;
        Protocol = protocol;
        SourcePort = sourcePort;
        DestinationPort = destinationPort;
        TransportOffset = transportOffset;
        PayloadOffset = payloadOffset;
        Length = length;
    }

    /// <summary>4 or 6.</summary>
    public byte Version { get; }

    /// <summary>The source address.</summary>
    public NetAddress Source { get; }

    /// <summary>The destination address.</summary>
    public NetAddress Destination { get; }

    /// <summary>The upper-layer protocol (<see cref="IpProtocol"/>), after IPv6 extension headers.</summary>
    public byte Protocol { get; }

    /// <summary>The TCP/UDP source port; for ICMP echo, the identifier; otherwise 0.</summary>
    public ushort SourcePort { get; }

    /// <summary>The TCP/UDP destination port; otherwise 0.</summary>
    public ushort DestinationPort { get; }

    /// <summary>Where the transport (TCP, UDP, ICMP) header starts.</summary>
    public int TransportOffset { get; }

    /// <summary>Where the transport payload starts (after the TCP header with options, the UDP header or the 8-byte ICMP header).</summary>
    public int PayloadOffset { get; }

    /// <summary>The packet length from the IP header (trailing bytes beyond it are not part of the packet); for UDP, ends where the UDP length field says.</summary>
    public int Length { get; }

    /// <summary>The transport length: <see cref="Length"/> minus <see cref="TransportOffset"/>.</summary>
    public int TransportLength => Length - TransportOffset;

    /// <summary>The payload length: <see cref="Length"/> minus <see cref="PayloadOffset"/> (for UDP, bounded by its length field).</summary>
    public int PayloadLength => Length - PayloadOffset;
}
