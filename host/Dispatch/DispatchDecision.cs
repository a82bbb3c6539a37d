using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Gateway.Host.Routing;
using Gateway.Sdk.Packets;

namespace Gateway.Host.Dispatch;

/// <summary>
/// The per-packet dispatch decision on the outbound path: version, destination, virtual-IP filter, longest
/// prefix. Reads only the fixed IP header; everything else is validated where the packet is terminated.
/// </summary>
/// <remarks>
/// The miss (a destination that is neither a virtual IP nor routed: most of what a TUN sees) is the hot case and
/// has a test of its own in <see cref="MissFilter"/>: over a whole batch (<see cref="MissFilter.Candidates"/>) or one
/// packet (<see cref="MissFilter.IsMiss"/>), the version nibble, the destination's bytes and two filter bytes.
/// Everything else comes here, out of line: set lookups, the route scan, malformed headers.
/// </remarks>
internal static class DispatchDecision
{
    /// <summary>
    /// Decides where <paramref name="packet"/> goes under <paramref name="snapshot"/>. Exact on its own (a miss
    /// comes back as a drop for no route); callers on the packet path test
    /// <see cref="MissFilter.IsMiss"/> first.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static DispatchResult Decide(ReadOnlySpan<byte> packet, RoutingSnapshot snapshot)
    {
        int version = packet.IsEmpty ? 0 : packet[0] >> 4;
        if (version == 4 && packet.Length >= IPv4Header.MinLength)
        {
            uint destination = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(16, 4));
            if (snapshot.IsVirtualV4(destination))
            {
                return new DispatchResult(DispatchAction.Virtual, DropReason.NoRoute);
            }

            return Routed(snapshot.FindRouteV4(destination));
        }

        if (version == 6 && packet.Length >= IPv6Header.Length)
        {
            var destination = new UInt128(BinaryPrimitives.ReadUInt64BigEndian(packet.Slice(24, 8)), BinaryPrimitives.ReadUInt64BigEndian(packet.Slice(32, 8)));
            if (snapshot.IsVirtualV6(destination))
            {
                return new DispatchResult(DispatchAction.Virtual, DropReason.NoRoute);
            }

            return Routed(snapshot.FindRouteV6(destination));
        }

        return new DispatchResult(DispatchAction.Drop, packet.IsEmpty || version == 4 || version == 6 ? DropReason.Truncated : DropReason.BadVersion);
    }

    private static DispatchResult Routed(PrefixRoute? route) =>
        new(route is null ? DispatchAction.Drop : DispatchAction.Route, DropReason.NoRoute, route);
}
