using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using Gateway.Sdk.Networking;

namespace Gateway.Host.Dispatch;

/// <summary>
/// Everything the dispatcher needs to decide where a packet goes (DESIGN §2): virtual endpoints keyed by
/// (address, port) per protocol, the set of virtual IPs, prefix routes and hooks. Immutable: a change
/// builds a new snapshot that <see cref="RoutingTable"/> publishes atomically; the packet path reads it
/// once per batch, without locks or allocation.
/// </summary>
internal sealed class RoutingSnapshot
{
    // A 65,536-bit filter over virtual IPv4/IPv6 addresses: a packet for any other address (the common
    // case on a routed TUN) is rejected with one load and one bit test, before any hashing.
    private const int FilterWords = 1024;

    private readonly ulong[] _filter;

    // Per family, one bit per top-16-bit block of the address space that some route overlaps: most
    // destinations that match no route are rejected by one bit test instead of a scan of the routes.
    private readonly ulong[] _v4RouteBlocks = new ulong[FilterWords];
    private readonly ulong[] _v6RouteBlocks = new ulong[FilterWords];
    private readonly FrozenSet<NetAddress> _virtualAddresses;
    private readonly V4Route[] _v4Routes;
    private readonly V6Route[] _v6Routes;

    public RoutingSnapshot(
        IEnumerable<DatagramBinding> datagrams,
        IEnumerable<StreamBinding> streams,
        IEnumerable<PrefixRoute> routes,
        IEnumerable<HookBinding> hooks)
    {
        Datagrams = datagrams.ToFrozenDictionary(b => b.Endpoint);
        Streams = streams.ToFrozenDictionary(b => b.Endpoint);
        var addresses = new HashSet<NetAddress>();
        foreach (NetEndpoint endpoint in Datagrams.Keys)
        {
            addresses.Add(endpoint.Address);
        }

        foreach (NetEndpoint endpoint in Streams.Keys)
        {
            addresses.Add(endpoint.Address);
        }

        _virtualAddresses = addresses.ToFrozenSet();
        _filter = new ulong[FilterWords];
        foreach (NetAddress address in addresses)
        {
            int bit = address.IsV4 ? FilterBitV4(address.V4Value) : FilterBitV6(address.Value);
            _filter[bit >> 6] |= 1UL << bit;
        }

        // Longest prefix first, so the first match in a linear scan is the longest match.
        var v4 = new List<V4Route>();
        var v6 = new List<V6Route>();
        foreach (PrefixRoute route in routes)
        {
            if (route.Prefix.Network.IsV4)
            {
                uint mask = route.Prefix.Length == 0 ? 0 : uint.MaxValue << (32 - route.Prefix.Length);
                v4.Add(new V4Route(route.Prefix.Network.V4Value, mask, route.Prefix.Length, route));
            }
            else
            {
                UInt128 mask = route.Prefix.Length == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - route.Prefix.Length);
                v6.Add(new V6Route(route.Prefix.Network.Value, mask, route.Prefix.Length, route));
            }
        }

        foreach (V4Route route in v4)
        {
            MarkBlocks(_v4RouteBlocks, (int)(route.Network >> 16), route.Length);
        }

        foreach (V6Route route in v6)
        {
            MarkBlocks(_v6RouteBlocks, (int)(route.Network >> 112), route.Length);
        }

        v4.Sort((a, b) => b.Length.CompareTo(a.Length));
        v6.Sort((a, b) => b.Length.CompareTo(a.Length));
        _v4Routes = v4.ToArray();
        _v6Routes = v6.ToArray();
        Hooks = hooks.ToArray();
        VirtualAddresses = addresses.ToArray();
        Routes = routes.ToArray();
    }

    /// <summary>An empty snapshot: nothing bound, nothing routed.</summary>
    public static RoutingSnapshot Empty { get; } = new([], [], [], []);

    /// <summary>UDP virtual endpoints.</summary>
    public FrozenDictionary<NetEndpoint, DatagramBinding> Datagrams { get; }

    /// <summary>TCP virtual endpoints.</summary>
    public FrozenDictionary<NetEndpoint, StreamBinding> Streams { get; }

    /// <summary>Every address with at least one virtual endpoint.</summary>
    public NetAddress[] VirtualAddresses { get; }

    /// <summary>Every prefix route, in registration order.</summary>
    public PrefixRoute[] Routes { get; }

    /// <summary>Packet hooks, in registration order.</summary>
    public HookBinding[] Hooks { get; }

    /// <summary>True when <paramref name="destination"/> (big-endian) is a virtual IPv4 address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsVirtualV4(uint destination)
    {
        int bit = FilterBitV4(destination);
        return (_filter[bit >> 6] & (1UL << bit)) != 0 && _virtualAddresses.Contains(NetAddress.FromV4(destination));
    }

    /// <summary>True when <paramref name="destination"/> is a virtual IPv6 address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsVirtualV6(UInt128 destination)
    {
        int bit = FilterBitV6(destination);
        return (_filter[bit >> 6] & (1UL << bit)) != 0 && _virtualAddresses.Contains(NetAddress.FromV6(destination));
    }

    /// <summary>True when <paramref name="address"/> is a virtual IP.</summary>
    public bool IsVirtual(NetAddress address) => _virtualAddresses.Contains(address);

    /// <summary>The longest-prefix route for an IPv4 destination, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PrefixRoute? FindRouteV4(uint destination)
    {
        int block = (int)(destination >> 16);
        if ((_v4RouteBlocks[block >> 6] & (1UL << block)) == 0)
        {
            return null;
        }

        V4Route[] routes = _v4Routes;
        for (int i = 0; i < routes.Length; i++)
        {
            if ((destination & routes[i].Mask) == routes[i].Network)
            {
                return routes[i].Route;
            }
        }

        return null;
    }

    /// <summary>The longest-prefix route for an IPv6 destination, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PrefixRoute? FindRouteV6(UInt128 destination)
    {
        int block = (int)(ulong)(destination >> 112);
        if ((_v6RouteBlocks[block >> 6] & (1UL << block)) == 0)
        {
            return null;
        }

        V6Route[] routes = _v6Routes;
        for (int i = 0; i < routes.Length; i++)
        {
            if ((destination & routes[i].Mask) == routes[i].Network)
            {
                return routes[i].Route;
            }
        }

        return null;
    }

    /// <summary>Marks the 16-bit blocks a prefix starting in block <paramref name="first"/> with <paramref name="length"/> bits covers.</summary>
    private static void MarkBlocks(ulong[] blocks, int first, int length)
    {
        int count = length >= 16 ? 1 : 1 << (16 - length);
        for (int block = first; block < first + count; block++)
        {
            blocks[block >> 6] |= 1UL << block;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FilterBitV4(uint address) => (int)((address ^ (address >> 16)) & 0xFFFF);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FilterBitV6(UInt128 address)
    {
        ulong low = (ulong)address;
        ulong folded = low ^ (ulong)(address >> 64);
        return (int)((folded ^ (folded >> 16) ^ (folded >> 32) ^ (folded >> 48)) & 0xFFFF);
    }

    private readonly record struct V4Route(uint Network, uint Mask, int Length, PrefixRoute Route);

    private readonly record struct V6Route(UInt128 Network, UInt128 Mask, int Length, PrefixRoute Route);
}
