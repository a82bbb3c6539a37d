using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// A set of client networks ("10.0.0.0/8", "fd00::/8") for use inside <c>Rule(...)</c> lambdas:
/// <see cref="Contains"/> is true when the query's client address is inside one of them. Create it once in
/// the script with <c>ClientIn(...)</c>, outside the lambda; a lookup walks a binary prefix tree and
/// allocates nothing.
/// </summary>
public sealed class ClientNetworks
{
    private readonly PrefixTrie _v4;
    private readonly PrefixTrie _v6;

    internal ClientNetworks(IEnumerable<string> prefixes)
    {
        _v4 = new PrefixTrie();
        _v6 = new PrefixTrie();
        foreach (string text in prefixes)
        {
            if (!IpPrefix.TryParse(text, out IpPrefix prefix))
            {
                throw new ArgumentException($"'{text}' is not a network such as 10.0.0.0/8 or fd00::/8", nameof(prefixes));
            }

            (prefix.Network.IsV6 ? _v6 : _v4).Add(prefix.Network.Value, prefix.Network.BitLength, prefix.Length);
        }
    }

    /// <summary>True when the query's client address is inside one of the networks.</summary>
    public bool Contains(DnsQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        return Contains(query.ClientAddress);
    }

    /// <summary>True when <paramref name="address"/> is inside one of the networks.</summary>
    internal bool Contains(NetAddress address) =>
        (address.IsV6 ? _v6 : _v4).Contains(address.Value, address.BitLength);

    /// <summary>
    /// A binary trie over address bits; node 0 is the root. children[2n] / [2n+1] are the child indexes for
    /// bit 0 / 1 (0 = none: the root is never a child); terminal[n] marks the end of a prefix. Lookups read
    /// the frozen arrays only.
    /// </summary>
    private sealed class PrefixTrie
    {
        private readonly List<int> _children = [0, 0];
        private readonly List<bool> _terminal = [false];
        private int[] _frozenChildren = [0, 0];
        private bool[] _frozenTerminal = [false];

        public void Add(UInt128 value, int bits, int length)
        {
            int node = 0;
            for (int i = 0; i < length && !_terminal[node]; i++)
            {
                int slot = (2 * node) + Bit(value, bits, i);
                if (_children[slot] == 0)
                {
                    _children[slot] = _terminal.Count;
                    _terminal.Add(false);
                    _children.Add(0);
                    _children.Add(0);
                }

                node = _children[slot];
            }

            _terminal[node] = true;
            _frozenChildren = [.. _children];
            _frozenTerminal = [.. _terminal];
        }

        public bool Contains(UInt128 value, int bits)
        {
            int[] children = _frozenChildren;
            bool[] terminal = _frozenTerminal;
            int node = 0;
            for (int i = 0; ; i++)
            {
                if (terminal[node])
                {
                    return true;
                }

                if (i == bits)
                {
                    return false;
                }

                node = children[(2 * node) + Bit(value, bits, i)];
                if (node == 0)
                {
                    return false;
                }
            }
        }

        private static int Bit(UInt128 value, int bits, int index) => (int)(value >> (bits - 1 - index)) & 1;
    }
}
