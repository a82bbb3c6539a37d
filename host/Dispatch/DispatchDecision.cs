using System.Runtime.CompilerServices;
using Gateway.Sdk.Packets;

namespace Gateway.Host.Dispatch;

/// <summary>
/// The per-packet dispatch decision on the outbound path: version, destination, virtual-IP filter, longest
/// prefix. Reads only the fixed IP header; everything else is validated where the packet is terminated.
/// </summary>
internal static class DispatchDecision
{
    /// <summary>Decides where <paramref name="packet"/> goes under <paramref name="snapshot"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DispatchAction Decide(ReadOnlySpan<byte> packet, RoutingSnapshot snapshot, out PrefixRoute? route, out DropReason reason)
    {
        route = null;
        reason = DropReason.BadVersion;
        if (packet.IsEmpty)
        {
            reason = DropReason.Truncated;
            return DispatchAction.Drop;
        }

        int version = packet[0] >> 4;
        if (version == 4)
        {
            if (packet.Length < IPv4Header.MinLength)
            {
                reason = DropReason.Truncated;
                return DispatchAction.Drop;
            }

            uint destination = IPv4Header.Destination(packet);
            if (snapshot.IsVirtualV4(destination))
            {
                return DispatchAction.Virtual;
            }

            route = snapshot.FindRouteV4(destination);
        }
        else if (version == 6)
        {
            if (packet.Length < IPv6Header.Length)
            {
                reason = DropReason.Truncated;
                return DispatchAction.Drop;
            }

            UInt128 destination = IPv6Header.DestinationValue(packet);
            if (snapshot.IsVirtualV6(destination))
            {
                return DispatchAction.Virtual;
            }

            route = snapshot.FindRouteV6(destination);
        }
        else
        {
            return DispatchAction.Drop;
        }

        reason = DropReason.NoRoute;
        return route is null ? DispatchAction.Drop : DispatchAction.Route;
    }
}
