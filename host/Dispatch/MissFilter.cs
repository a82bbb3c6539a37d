using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gateway.Host.Tun;
using Gateway.Sdk.Packets;

namespace Gateway.Host.Dispatch;

/// <summary>
/// A routing snapshot's miss filter (<see cref="RoutingSnapshot.MissFilter"/>) as one raw pointer, taken once per
/// batch so the per-packet test loads nothing but the packet and two filter bytes.
/// </summary>
/// <remarks>
/// One pinned block of <see cref="Bytes"/>: IPv4 at offset 0, IPv6 at <see cref="V6Offset"/>, each 2 × 65,536
/// bytes. The first half of a family has a non-zero byte per virtual address, indexed by the address's LAST two
/// bytes; the second half one per top-16-bit block some prefix route overlaps, indexed by the address's FIRST two
/// bytes. Indexes are big-endian (host-order) values, one MOVBE per load: neighbouring addresses (the hosts of one
/// subnet) land on neighbouring bytes, so a batch to many hosts touches a few cache lines, not one per host as
/// native-endian indexes would (measured: 2.9 → 2.3 ns per IPv6 miss over 256 hosts). Valid while the snapshot that
/// made it is reachable (it owns the pinned block); the dispatcher holds the snapshot for the whole batch.
/// </remarks>
internal readonly unsafe struct MissFilter
{
    /// <summary>Bytes in each half of a family's filter: one per 16-bit index.</summary>
    public const int Half = 65536;

    /// <summary>Where the IPv6 filter starts.</summary>
    public const int V6Offset = 2 * Half;

    /// <summary>The size of the whole block.</summary>
    public const int Bytes = 4 * Half;

    private readonly byte* _block;

    public MissFilter(byte* block) => _block = block;

    /// <summary>
    /// True when <paramref name="packet"/> has a whole fixed IPv4 or IPv6 header and its destination is certainly
    /// neither a virtual IP nor inside a prefix route: drop it (no route). False means "not certain": ask
    /// <see cref="DispatchDecision.Decide"/>, which is exact on its own.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsMiss(ReadOnlySpan<byte> packet) => Seen(_block, ref MemoryMarshal.GetReference(packet), packet.Length) == 0;

    /// <summary>
    /// Writes the slot of every packet of <paramref name="batch"/> that <see cref="IsMiss"/> does not reject to
    /// <paramref name="candidates"/>, in batch order, and returns how many there are: the rest are misses. One tight
    /// loop without calls or branches on the outcome (the slot is always written, the count advanced by the filter
    /// byte), so a batch of misses costs the header loads and the filter test per packet and nothing else.
    /// </summary>
    public int Candidates(PacketBatch batch, Span<int> candidates)
    {
        ReadOnlySpan<int> offsets = batch.Offsets;
        ReadOnlySpan<int> lengths = batch.Lengths;
        if (candidates.Length < offsets.Length || lengths.Length != offsets.Length)
        {
            throw new ArgumentException($"room for {offsets.Length} candidates needed", nameof(candidates));
        }

        // The filter in a local: the stores to the candidates could otherwise alias it and force a reload per packet.
        byte* filter = _block;

        // Native-width indexes and refs (lengths were checked above): no sign extension or bounds check per packet.
        ref byte arena = ref batch.Arena;
        ref int offset = ref MemoryMarshal.GetReference(offsets);
        ref int length = ref MemoryMarshal.GetReference(lengths);
        ref int slot = ref MemoryMarshal.GetReference(candidates);
        nuint count = (nuint)offsets.Length;
        nuint found = 0;
        nuint i = 0;

        // Two packets per round: half the loop overhead and taken branches per packet.
        for (nuint pairs = count & ~(nuint)1; i < pairs; i += 2)
        {
            nuint first = Seen(filter, ref Unsafe.Add(ref arena, (uint)Unsafe.Add(ref offset, i)), Unsafe.Add(ref length, i));
            nuint second = Seen(filter, ref Unsafe.Add(ref arena, (uint)Unsafe.Add(ref offset, i + 1)), Unsafe.Add(ref length, i + 1));
            Unsafe.Add(ref slot, found) = (int)i;
            found += first;
            Unsafe.Add(ref slot, found) = (int)i + 1;
            found += second;
        }

        if (i < count)
        {
            Unsafe.Add(ref slot, found) = (int)i;
            found += Seen(filter, ref Unsafe.Add(ref arena, (uint)Unsafe.Add(ref offset, i)), Unsafe.Add(ref length, i));
        }

        return (int)found;
    }

    // 0 when the packet is certainly a miss, 1 when it must be looked at (a filter hit, or a header the fast path
    // does not take: too short, another version). Filter bytes are 0 or 1, so the OR of two is too. One result
    // variable and one return, so an inlined IsMiss ends in a branch on the filter bytes, not a materialized bool.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Seen(byte* filter, ref byte start, int length)
    {
        // The first length check covers every read on the IPv4 path, the second one the IPv6 path.
        nuint seen = 1;
        if (length >= IPv4Header.MinLength)
        {
            int version = start >> 4;
            if (version == 4)
            {
                uint destination = BigEndian(ref Unsafe.Add(ref start, 16));
                nuint head = destination >> 16;
                nuint tail = destination & 0xFFFF;
                seen = (nuint)filter[tail] | (filter + Half)[head];
            }
            else if (version == 6 && length >= IPv6Header.Length)
            {
                nuint head = BigEndian(ref Unsafe.Add(ref start, 24)) >> 16;
                nuint tail = BigEndian(ref Unsafe.Add(ref start, 36)) & 0xFFFF;
                seen = (nuint)(filter + V6Offset)[tail] | (filter + V6Offset + Half)[head];
            }
        }

        return seen;
    }

    // The big-endian value of the four bytes at `at`: a load and a byte swap, which the JIT makes one MOVBE with the
    // offset folded in (BinaryPrimitives.ReadUInt32BigEndian on a span made one LEA more per load here).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint BigEndian(ref byte at)
    {
        uint value = Unsafe.ReadUnaligned<uint>(ref at);
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;
    }
}
