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
    public static DispatchResult Decide(ReadOnlySpan<byte> packet, RoutingSnapshot snapshot)
    {
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
                    return new DispatchResult(DispatchAction.Drop, DropReason.NoRoute);
                }

                return DecideV4(BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, 16))), snapshot);
            }

            if (version == 6 && packet.Length >= IPv6Header.Length)
            {
                RoutingSnapshot.DestinationIndexes(ref Unsafe.Add(ref start, 24), 16, out ushort head, out ushort tail);
                if (!snapshot.MayMatchV6(head, tail))
                {
                    return new DispatchResult(DispatchAction.Drop, DropReason.NoRoute);
                }

                ulong high = BinaryPrimitives.ReadUInt64BigEndian(packet.Slice(24, 8));
                ulong low = BinaryPrimitives.ReadUInt64BigEndian(packet.Slice(32, 8));
                return DecideV6(new UInt128(high, low), snapshot);
            }
        }

        return Malformed(packet);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DispatchResult DecideV4(uint destination, RoutingSnapshot snapshot)
    {
        if (snapshot.IsVirtualV4(destination))
        {
            return new DispatchResult(DispatchAction.Virtual, DropReason.NoRoute);
        }

        PrefixRoute? route = snapshot.FindRouteV4(destination);
        return new DispatchResult(route is null ? DispatchAction.Drop : DispatchAction.Route, DropReason.NoRoute, route);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DispatchResult DecideV6(UInt128 destination, RoutingSnapshot snapshot)
    {
        if (snapshot.IsVirtualV6(destination))
        {
            return new DispatchResult(DispatchAction.Virtual, DropReason.NoRoute);
        }

        PrefixRoute? route = snapshot.FindRouteV6(destination);
        return new DispatchResult(route is null ? DispatchAction.Drop : DispatchAction.Route, DropReason.NoRoute, route);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DispatchResult Malformed(ReadOnlySpan<byte> packet)
    {
        int version = packet.IsEmpty ? 0 : packet[0] >> 4;
        return new DispatchResult(DispatchAction.Drop, packet.IsEmpty || version == 4 || version == 6 ? DropReason.Truncated : DropReason.BadVersion);
    }
}
