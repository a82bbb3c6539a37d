using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Clients;

/// <summary>
/// Client address → <see cref="ClientPolicy"/> by the most specific matching network (longest prefix), one
/// binary trie per family. The walk reads frozen arrays only: no lock, no allocation per query.
/// </summary>
/// <remarks>
/// "Most specific" is what "the first group whose networks match" has to mean here: .NET configuration does not
/// keep the order of a YAML mapping's keys (it sorts them), and a /27 of kids inside a /24 LAN must win whatever
/// the spelling. Two groups claiming the same network are a configuration error.
/// </remarks>
internal sealed class ClientPolicyTable
{
    private readonly Trie _v4 = new();
    private readonly Trie _v6 = new();

    /// <summary>Adds <paramref name="prefix"/> for <paramref name="policy"/>; false when the exact prefix is already taken.</summary>
    public bool Add(IpPrefix prefix, ClientPolicy policy) =>
        (prefix.Network.IsV6 ? _v6 : _v4).Add(prefix.Network.Value, prefix.Network.BitLength, prefix.Length, policy);

    /// <summary>The policy of the most specific network containing <paramref name="address"/>, or null.</summary>
    public ClientPolicy? Match(NetAddress address) => (address.IsV6 ? _v6 : _v4).Match(address.Value, address.BitLength);

    /// <summary>Node n's children are at [2n] (bit 0) and [2n+1] (bit 1); 0 means none (the root is never a child).</summary>
    private sealed class Trie
    {
        private int[] _children = new int[64];
        private ClientPolicy?[] _values = new ClientPolicy?[32];
        private int _nodes = 1;

        public bool Add(UInt128 value, int bits, int length, ClientPolicy policy)
        {
            int node = 0;
            for (int i = 0; i < length; i++)
            {
                int slot = (2 * node) + Bit(value, bits, i);
                if (_children[slot] == 0)
                {
                    if (_nodes == _values.Length)
                    {
                        Array.Resize(ref _values, _values.Length * 2);
                        Array.Resize(ref _children, _children.Length * 2);
                    }

                    _children[slot] = _nodes++;
                }

                node = _children[slot];
            }

            if (_values[node] is not null)
            {
                return false;
            }

            _values[node] = policy;
            return true;
        }

        public ClientPolicy? Match(UInt128 value, int bits)
        {
            int[] children = _children;
            ClientPolicy?[] values = _values;
            int node = 0;
            ClientPolicy? best = values[0];
            for (int i = 0; i < bits; i++)
            {
                node = children[(2 * node) + Bit(value, bits, i)];
                if (node == 0)
                {
                    break;
                }

                best = values[node] ?? best;
            }

            return best;
        }

        private static int Bit(UInt128 value, int bits, int index) => (int)(value >> (bits - 1 - index)) & 1;
    }
}
