namespace Gateway.Sdk.Packets;

/// <summary>Why <see cref="PacketClassifier"/> refused a packet (doubles as a drop reason).</summary>
public enum PacketError : byte
{
    /// <summary>The packet is well formed.</summary>
    None = 0,

    /// <summary>The version nibble is neither 4 nor 6.</summary>
    BadVersion,

    /// <summary>The IPv4 header length is below 20 bytes or beyond the packet.</summary>
    BadHeaderLength,

    /// <summary>The IP total/payload length disagrees with the bytes received.</summary>
    BadTotalLength,

    /// <summary>The packet ends inside a header (IP, extension or transport).</summary>
    Truncated,

    /// <summary>The packet is a fragment; the gateway does not reassemble, so it has no ports to dispatch on.</summary>
    Fragment,

    /// <summary>The transport header is inconsistent (TCP data offset below 5, UDP length out of range).</summary>
    BadTransportHeader,
}
