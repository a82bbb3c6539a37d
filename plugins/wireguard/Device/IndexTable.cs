using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Gateway.Plugins.WireGuard.Device;

/// <summary>
/// Maps our random 32-bit session indices (whitepaper §5.4.2: the sender index) to the peer and, once the
/// session is derived, its keypair. Lookups on the packet path are lock-free and allocation-free.
/// </summary>
internal sealed class IndexTable
{
    private readonly ConcurrentDictionary<uint, IndexEntry> _entries = new();

    /// <summary>Reserves a new random index for a handshake of <paramref name="peer"/>.</summary>
    public uint NewIndex(Peer peer)
    {
        Span<byte> random = stackalloc byte[4];
        while (true)
        {
            RandomNumberGenerator.Fill(random);
            uint index = BitConverter.ToUInt32(random);
            if (_entries.TryAdd(index, new IndexEntry(peer, null)))
            {
                return index;
            }
        }
    }

    /// <summary>Binds an index to the keypair derived from its handshake.</summary>
    public void SetKeypair(uint index, Peer peer, Keypair keypair) => _entries[index] = new IndexEntry(peer, keypair);

    /// <summary>Finds an index.</summary>
    public bool TryGet(uint index, out IndexEntry entry) => _entries.TryGetValue(index, out entry!);

    /// <summary>Frees an index.</summary>
    public void Remove(uint index) => _entries.TryRemove(index, out _);

    /// <summary>Number of indices in use.</summary>
    public int Count => _entries.Count;
}

/// <summary>What an index refers to: a peer, and its keypair once the handshake finished.</summary>
internal sealed record IndexEntry(Peer Peer, Keypair? Keypair);
