using Gateway.Sdk.Networking;

namespace Gateway.Plugins.WireGuard.Routing;

/// <summary>
/// Cryptokey routing table (whitepaper §2): a binary trie per address family mapping prefixes to peers, longest
/// prefix wins. Changes rebuild an immutable trie that is swapped atomically, so lookups on the packet path take
/// no lock and allocate nothing; changes (configuration, UAPI) are rare.
/// </summary>
/// <typeparam name="T">The peer type.</typeparam>
internal sealed class AllowedIps<T>
    where T : class
{
    [ThreadStatic]
    private static Node? t_root;

    [ThreadStatic]
    private static UInt128 t_value;

    [ThreadStatic]
    private static T? t_peer;

    private readonly Lock _lock = new();
    private readonly Dictionary<IpPrefix, T> _entries = new();
    private Node? _v4;
    private Node? _v6;

    /// <summary>Adds or moves <paramref name="prefix"/> to <paramref name="peer"/> (a prefix belongs to one peer, as in wg).</summary>
    public void Insert(IpPrefix prefix, T peer)
    {
        lock (_lock)
        {
            _entries[prefix] = peer;
            Rebuild();
        }
    }

    /// <summary>Removes every prefix of <paramref name="peer"/>.</summary>
    public void RemoveByPeer(T peer)
    {
        lock (_lock)
        {
            RemoveLocked(peer);
            Rebuild();
        }
    }

    /// <summary>
    /// Makes <paramref name="prefixes"/> the whole set of <paramref name="peer"/>'s prefixes in one swap (a reload
    /// changing a peer's allowedIps): a prefix kept is routed without a gap, one dropped stops at once.
    /// </summary>
    public void ReplacePeer(T peer, IEnumerable<IpPrefix> prefixes)
    {
        lock (_lock)
        {
            RemoveLocked(peer);
            foreach (IpPrefix prefix in prefixes)
            {
                _entries[prefix] = peer;
            }

            Rebuild();
        }
    }

    private void RemoveLocked(T peer)
    {
        foreach (IpPrefix prefix in PrefixesOfLocked(peer))
        {
            _entries.Remove(prefix);
        }
    }

    private List<IpPrefix> PrefixesOfLocked(T peer)
    {
        List<IpPrefix> result = new();
        foreach (KeyValuePair<IpPrefix, T> entry in _entries)
        {
            if (ReferenceEquals(entry.Value, peer))
            {
                result.Add(entry.Key);
            }
        }

        return result;
    }

    /// <summary>The prefixes of <paramref name="peer"/>.</summary>
    public List<IpPrefix> PrefixesOf(T peer)
    {
        lock (_lock)
        {
            List<IpPrefix> result = PrefixesOfLocked(peer);
            result.Sort(static (a, b) => a.Network.CompareTo(b.Network) is int c && c != 0 ? c : a.Length.CompareTo(b.Length));
            return result;
        }
    }

    /// <summary>Every prefix in the table.</summary>
    public List<IpPrefix> AllPrefixes()
    {
        lock (_lock)
        {
            return new List<IpPrefix>(_entries.Keys);
        }
    }

    /// <summary>The peer whose prefix contains <paramref name="address"/> most specifically, or null.</summary>
    public T? Lookup(NetAddress address)
    {
        Node? root = Volatile.Read(ref address.IsV6 ? ref _v6 : ref _v4);
        UInt128 value = address.Value;

        // Packets come in trains to one address (the segments of a super-packet, a flow's burst): the last answer of
        // this thread is reused while the trie it came from is still the current one (a change swaps the root).
        if (root is not null && ReferenceEquals(t_root, root) && t_value == value)
        {
            return t_peer;
        }

        // The walk reads bits from 64-bit words: UInt128 shifts per bit cost several instructions each.
        T? peer = address.IsV6
            ? Walk(root, (ulong)(value >> 64), (ulong)value, 128)
            : Walk(root, (ulong)(uint)value << 32, 0, 32);
        t_root = root;
        t_value = value;
        t_peer = peer;
        return peer;
    }

    /// <summary>Looks up the address in network-order bytes at the start of <paramref name="bytes"/> (4 or 16).</summary>
    public T? Lookup(ReadOnlySpan<byte> bytes, bool v6) => Lookup(v6 ? NetAddress.ReadV6(bytes) : NetAddress.ReadV4(bytes));

    private static T? Walk(Node? node, ulong high, ulong low, int bits)
    {
        T? best = null;
        for (int depth = 0; node is not null; depth++)
        {
            if (node.Peer is not null)
            {
                best = node.Peer;
            }

            if (depth == bits)
            {
                break;
            }

            ulong word = depth < 64 ? high : low;
            node = ((word >> (63 - (depth & 63))) & 1) == 0 ? node.Zero : node.One;
        }

        return best;
    }

    private void Rebuild()
    {
        Node? v4 = null, v6 = null;
        foreach (KeyValuePair<IpPrefix, T> entry in _entries)
        {
            IpPrefix prefix = entry.Key;
            int bits = prefix.Network.BitLength;
            ref Node? root = ref prefix.Network.IsV6 ? ref v6 : ref v4;
            root ??= new Node();
            Node node = root;
            for (int depth = 0; depth < prefix.Length; depth++)
            {
                int bit = (int)((prefix.Network.Value >> (bits - 1 - depth)) & 1);
                if (bit == 0)
                {
                    node = node.Zero ??= new Node();
                }
                else
                {
                    node = node.One ??= new Node();
                }
            }

            node.Peer = entry.Value;
        }

        Volatile.Write(ref _v4, v4);
        Volatile.Write(ref _v6, v6);
    }

    private sealed class Node
    {
        public Node? Zero;
        public Node? One;
        public T? Peer;
    }
}
