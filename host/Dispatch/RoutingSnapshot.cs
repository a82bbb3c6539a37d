using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gateway.Sdk.Networking;

namespace Gateway.Host.Dispatch;

/// <summary>
/// Everything the dispatcher needs to decide where a packet goes (DESIGN §2): virtual endpoints keyed by
/// (address, port) per protocol, the set of virtual IPs, prefix routes and hooks. Immutable: a change
/// builds a new snapshot that <see cref="RoutingTable"/> publishes atomically; the packet path reads it
/// once per batch, without locks or allocation.
/// </summary>
internal sealed unsafe class RoutingSnapshot
{
    // Per family one 2 × 65,536-bit filter (16 KiB): the first half has one bit per 16-bit hash of each virtual
    // address, the second half one bit per top-16-bit block of the address space some prefix route overlaps.
    // A packet for any other destination (the common case on a routed TUN) is rejected by two loads, an OR
    // and one branch (MayMatchV4/V6), before any hashing, set lookup or route scan.
    private const int FilterWords = 1024;

    // Pinned (pinned object heap) and read through raw pointers: the miss path is then a pointer load and two
    // indexed loads, without null and bounds checks. The arrays live as long as the snapshot that points at them.
    private readonly ulong[] _v4Filter = GC.AllocateArray<ulong>(2 * FilterWords, pinned: true);
    private readonly ulong[] _v6Filter = GC.AllocateArray<ulong>(2 * FilterWords, pinned: true);
    private readonly ulong* _v4Bits;
    private readonly ulong* _v6Bits;
    private readonly FrozenSet<NetAddress> _virtualAddresses;
    private readonly V4Route[] _v4Routes;
    private readonly V6Route[] _v6Routes;

    public RoutingSnapshot(
        IEnumerable<DatagramBinding> datagrams,
        IEnumerable<StreamBinding> streams,
        IEnumerable<PrefixRoute> routes,
        IEnumerable<HookBinding> hooks)
    {
        _v4Bits = (ulong*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_v4Filter));
        _v6Bits = (ulong*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_v6Filter));
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
        foreach (NetAddress address in addresses)
        {
            if (address.IsV4)
            {
                SetBit(_v4Filter, FilterBitV4(address.V4Value));
            }
            else
            {
                SetBit(_v6Filter, FilterBitV6((ulong)(address.Value >> 64), (ulong)address.Value));
            }
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
            MarkBlocks(_v4Filter, (int)(route.Network >> 16), route.Length);
        }

        foreach (V6Route route in v6)
        {
            MarkBlocks(_v6Filter, (int)(route.Network >> 112), route.Length);
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

    /// <summary>
    /// False when the IPv4 <paramref name="destination"/> (big-endian) is certainly neither a virtual IP nor inside
    /// a prefix route: the whole miss path. True means "look closer" (<see cref="IsVirtualV4"/>, <see cref="FindRouteV4"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool MayMatchV4(uint destination) => MayMatch(_v4Bits, FilterBitV4(destination), destination >> 16);

    /// <summary>
    /// False when the IPv6 destination (its two big-endian halves) is certainly neither a virtual IP nor inside a
    /// prefix route. True means "look closer" (<see cref="IsVirtualV6"/>, <see cref="FindRouteV6"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool MayMatchV6(ulong high, ulong low) => MayMatch(_v6Bits, FilterBitV6(high, low), (uint)(high >> 48));

    /// <summary>True when <paramref name="destination"/> (big-endian) is a virtual IPv4 address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsVirtualV4(uint destination) =>
        TestBit(_v4Bits, FilterBitV4(destination)) && _virtualAddresses.Contains(NetAddress.FromV4(destination));

    /// <summary>True when <paramref name="destination"/> is a virtual IPv6 address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsVirtualV6(UInt128 destination) =>
        TestBit(_v6Bits, FilterBitV6((ulong)(destination >> 64), (ulong)destination)) && _virtualAddresses.Contains(NetAddress.FromV6(destination));

    /// <summary>True when <paramref name="address"/> is a virtual IP.</summary>
    public bool IsVirtual(NetAddress address) => _virtualAddresses.Contains(address);

    /// <summary>The longest-prefix route for an IPv4 destination, or null.</summary>
    public PrefixRoute? FindRouteV4(uint destination)
    {
        if (!TestBit(_v4Bits, FilterWords * 64 + (destination >> 16)))
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
    public PrefixRoute? FindRouteV6(UInt128 destination)
    {
        if (!TestBit(_v6Bits, FilterWords * 64 + (uint)(ulong)(destination >> 112)))
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
    private static void MarkBlocks(ulong[] filter, int first, int length)
    {
        int count = length >= 16 ? 1 : 1 << (16 - length);
        for (int block = first; block < first + count; block++)
        {
            SetBit(filter, (uint)(FilterWords * 64 + block));
        }
    }

    private static void SetBit(ulong[] filter, uint bit) => filter[bit >> 6] |= 1UL << (int)bit;

    // Every index is below 2^16 (hash bits) or 2^16 + 2^16 (block bits) by construction, inside the 2 × 1024
    // words: no bounds checks, on purpose, on the per-packet path. Unsigned math keeps the JIT from sign-extending.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TestBit(ulong* filter, uint bit) => (filter[bit >> 6] & (1UL << (int)bit)) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool MayMatch(ulong* filter, uint virtualBit, uint block)
    {
        ulong hits = (filter[virtualBit >> 6] >> (int)virtualBit) | (filter[FilterWords + (block >> 6)] >> (int)block);
        return (hits & 1) != 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint FilterBitV4(uint address) => (address ^ (address >> 16)) & 0xFFFF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint FilterBitV6(ulong high, ulong low)
    {
        ulong folded = low ^ high;
        return (uint)(folded ^ (folded >> 16) ^ (folded >> 32) ^ (folded >> 48)) & 0xFFFF;
    }

    private readonly record struct V4Route(uint Network, uint Mask, int Length, PrefixRoute Route);

    private readonly record struct V6Route(UInt128 Network, UInt128 Mask, int Length, PrefixRoute Route);
}
