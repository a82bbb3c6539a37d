using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;

namespace Gateway.Host.Nat;

/// <summary>
/// The TCP segment rewrite of DESIGN §2's kernel NAT, in place: a client's segment for a virtual endpoint is turned
/// into one from the session's NAT endpoint (virtual IP : NAT port) to the kernel listener, and the listener's
/// reply back into one from the virtual endpoint to the original client. Checksums are updated incrementally
/// (RFC 1624), so the cost does not depend on the segment's length.
/// </summary>
internal static class TcpNatRewriter
{
    /// <summary>
    /// client:cport → vip:vport becomes vip:natPort → listener. <paramref name="tcp"/> is the TCP header and payload
    /// inside <paramref name="packet"/>.
    /// </summary>
    public static void ToListener(Span<byte> packet, Span<byte> tcp, bool v6, NatEntry entry, NetEndpoint listener)
    {
        RewriteAddresses(packet, tcp, v6, ReadSource(packet, v6), entry.Virtual.Address, listener.Address, ReadDestination(packet, v6));
        TcpHeader.SetSourcePort(tcp, entry.NatPort);
        TcpHeader.SetDestinationPort(tcp, listener.Port);
    }

    /// <summary>listener:lport → vip:natPort becomes vip:vport → client:cport.</summary>
    public static void ToClient(Span<byte> packet, Span<byte> tcp, bool v6, NatEntry entry, NetEndpoint listener)
    {
        RewriteAddresses(packet, tcp, v6, listener.Address, entry.Virtual.Address, entry.Client.Address, ReadDestination(packet, v6));
        TcpHeader.SetSourcePort(tcp, entry.Virtual.Port);
        TcpHeader.SetDestinationPort(tcp, entry.Client.Port);
    }

    private static void RewriteAddresses(Span<byte> packet, Span<byte> tcp, bool v6, NetAddress oldSource, NetAddress newSource, NetAddress newDestination, NetAddress oldDestination)
    {
        if (!v6)
        {
            IPv4Header.SetSource(packet, newSource.V4Value);
            IPv4Header.SetDestination(packet, newDestination.V4Value);
            TcpHeader.AdjustChecksum(tcp, oldSource.V4Value, newSource.V4Value);
            TcpHeader.AdjustChecksum(tcp, oldDestination.V4Value, newDestination.V4Value);
            return;
        }

        Span<byte> old = stackalloc byte[32];
        packet.Slice(8, 32).CopyTo(old);
        newSource.WriteTo(packet[8..]);
        newDestination.WriteTo(packet[24..]);
        TcpHeader.AdjustChecksum(tcp, old, packet.Slice(8, 32));
    }

    private static NetAddress ReadSource(ReadOnlySpan<byte> packet, bool v6) =>
        v6 ? IPv6Header.Source(packet) : NetAddress.FromV4(IPv4Header.Source(packet));

    private static NetAddress ReadDestination(ReadOnlySpan<byte> packet, bool v6) =>
        v6 ? IPv6Header.Destination(packet) : NetAddress.FromV4(IPv4Header.Destination(packet));
}
