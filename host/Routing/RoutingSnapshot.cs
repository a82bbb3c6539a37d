using System.Collections.Frozen;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gateway.Sdk.Networking;

namespace Gateway.Host.Routing;

/// <summary>
/// Everything the dispatcher needs to decide where a packet goes (DESIGN §2): virtual endpoints keyed by
/// (address, port) per protocol, the set of virtual IPs, prefix routes and hooks. Immutable: a change
/// builds a new snapshot that <see cref="RoutingTable"/> publishes atomically; the packet path reads it
/// once per batch, without locks or allocation.
/// </summary>
internal sealed unsafe class RoutingSnapshot
{
    // Per family one filter of 2 × 65,536 bytes (layout: MissFilter): a packet for any other destination (the
    // common case on a routed TUN) is rejected by the destination's bytes, two byte loads, an OR and a branch
    // before any set lookup or route scan. Bytes, not bits: no shift or mask per test, at 128 KiB per family per
    // snapshot (snapshots change only when plugins bind or route).
    private const int FilterHalf = MissFilter.Half;

    // Pinned (pinned object heap) and read through raw pointers: the miss path is then a pointer load and two
    // indexed loads, without null and bounds checks. The arrays live as long as the snapshot that points at them.
    private readonly byte[] _filter = GC.AllocateArray<byte>(MissFilter.Bytes, pinned: true);
    private readonly byte* _v4Bytes;
    private readonly byte* _v6Bytes;
    private readonly FrozenSet<NetAddress> _virtualAddresses;
    private readonly V4Route[] _v4Routes;
    private readonly V6Route[] _v6Routes;

    public RoutingSnapshot(
        IEnumerable<DatagramBinding> datagrams,
        IEnumerable<StreamBinding> streams,
        IEnumerable<PrefixRoute> routes,
        IEnumerable<HookBinding> hooks)
    {
        _v4Bytes = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_filter));
        _v6Bytes = _v4Bytes + MissFilter.V6Offset;
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
                _v4Bytes[(ushort)address.V4Value] = 1;
            }
            else
            {
                _v6Bytes[(ushort)address.Value] = 1;
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
            MarkBlocks(_v4Bytes, (int)(route.Network >> 16), route.Length);
        }

        foreach (V6Route route in v6)
        {
            MarkBlocks(_v6Bytes, (int)(route.Network >> 112), route.Length);
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

    /// <summary>The miss filter of this snapshot: the dispatcher's first, per-packet test.</summary>
    public MissFilter MissFilter => new(_v4Bytes);

    /// <summary>True when <paramref name="destination"/> (big-endian) is a virtual IPv4 address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsVirtualV4(uint destination) =>
        _v4Bytes[(ushort)destination] != 0 && _virtualAddresses.Contains(NetAddress.FromV4(destination));

    /// <summary>True when <paramref name="destination"/> is a virtual IPv6 address.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsVirtualV6(UInt128 destination) =>
        _v6Bytes[(ushort)destination] != 0 && _virtualAddresses.Contains(NetAddress.FromV6(destination));

    /// <summary>True when <paramref name="address"/> is a virtual IP.</summary>
    public bool IsVirtual(NetAddress address) => _virtualAddresses.Contains(address);

    /// <summary>The longest-prefix route for an IPv4 destination, or null.</summary>
    public PrefixRoute? FindRouteV4(uint destination)
    {
        if (_v4Bytes[FilterHalf + MissFilter.BlockIndex((int)(destination >> 16))] == 0)
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
        if (_v6Bytes[FilterHalf + MissFilter.BlockIndex((int)(destination >> 112))] == 0)
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
    private static void MarkBlocks(byte* filter, int first, int length)
    {
        // IpPrefix masks its network, so the blocks end inside the half; the bound keeps an unchecked write inside it anyway.
        int end = Math.Min(first + (length >= 16 ? 1 : 1 << (16 - length)), FilterHalf);
        for (int block = first; block < end; block++)
        {
            filter[FilterHalf + MissFilter.BlockIndex(block)] = 1;
        }
    }

    private readonly record struct V4Route(uint Network, uint Mask, int Length, PrefixRoute Route);

    private readonly record struct V6Route(UInt128 Network, UInt128 Mask, int Length, PrefixRoute Route);
}
