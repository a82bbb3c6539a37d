using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gateway.Sdk.Packets;

namespace Gateway.Host.Dispatch;

/// <summary>
/// The per-packet dispatch decision on the outbound path: version, destination, virtual-IP filter, longest
/// prefix. Reads only the fixed IP header; everything else is validated where the packet is terminated.
/// </summary>
/// <remarks>
/// The miss (a destination that is neither a virtual IP nor routed: most of what a TUN sees) is the hot case:
/// version nibble, length check, the destination's first and last two bytes, one test of the routing snapshot's
/// filter, then return. Set lookups and the route scan happen only behind that test, out of line.
/// </remarks>
internal static class DispatchDecision
{
    /// <summary>Decides where <paramref name="packet"/> goes under <paramref name="snapshot"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DispatchAction Decide(ReadOnlySpan<byte> packet, RoutingSnapshot snapshot, out PrefixRoute? route, out DropReason reason)
    {
        route = null;
        if (packet.Length >= IPv4Header.MinLength)
        {
            // The length check above covers every read on the IPv4 path: no further bounds checks.
            ref byte start = ref MemoryMarshal.GetReference(packet);
            int version = start >> 4;
            if (version == 4)
            {
                RoutingSnapshot.DestinationIndexes(ref Unsafe.Add(ref start, 16), 4, out ushort head, out ushort tail);
                if (!snapshot.MayMatchV4(head, tail))
                {
                    reason = DropReason.NoRoute;
                    return DispatchAction.Drop;
                }

                uint destination = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, 16)));
                return DecideV4(destination, snapshot, out route, out reason);
            }

            if (version == 6 && packet.Length >= IPv6Header.Length)
            {
                RoutingSnapshot.DestinationIndexes(ref Unsafe.Add(ref start, 24), 16, out ushort head, out ushort tail);
                if (!snapshot.MayMatchV6(head, tail))
                {
                    reason = DropReason.NoRoute;
                    return DispatchAction.Drop;
                }

                ulong high = BinaryPrimitives.ReadUInt64BigEndian(packet.Slice(24, 8));
                ulong low = BinaryPrimitives.ReadUInt64BigEndian(packet.Slice(32, 8));
                return DecideV6(new UInt128(high, low), snapshot, out route, out reason);
            }
        }

        return Malformed(packet, out reason);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DispatchAction DecideV4(uint destination, RoutingSnapshot snapshot, out PrefixRoute? route, out DropReason reason)
    {
        reason = DropReason.NoRoute;
        if (snapshot.IsVirtualV4(destination))
        {
            route = null;
            return DispatchAction.Virtual;
        }

        route = snapshot.FindRouteV4(destination);
        return route is null ? DispatchAction.Drop : DispatchAction.Route;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DispatchAction DecideV6(UInt128 destination, RoutingSnapshot snapshot, out PrefixRoute? route, out DropReason reason)
    {
        reason = DropReason.NoRoute;
        if (snapshot.IsVirtualV6(destination))
        {
            route = null;
            return DispatchAction.Virtual;
        }

        route = snapshot.FindRouteV6(destination);
        return route is null ? DispatchAction.Drop : DispatchAction.Route;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DispatchAction Malformed(ReadOnlySpan<byte> packet, out DropReason reason)
    {
        int version = packet.IsEmpty ? 0 : packet[0] >> 4;
        reason = packet.IsEmpty || version == 4 || version == 6 ? DropReason.Truncated : DropReason.BadVersion;
        return DispatchAction.Drop;
    }
}
