using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Gateway.Host.Tun;
using Gateway.Sdk.Packets;

namespace Gateway.Host.Routing;

/// <summary>
/// A routing snapshot's miss filter (<see cref="RoutingSnapshot.MissFilter"/>) as one raw pointer, taken once per
/// batch so the per-packet test loads nothing but the packet and two filter bytes.
/// </summary>
/// <remarks>
/// One pinned block of <see cref="Bytes"/>: IPv4 at offset 0, IPv6 at <see cref="V6Offset"/>, each 2 × 65,536
/// bytes. The first half of a family has a non-zero byte per virtual address, indexed by the address's LAST two
/// bytes read big-endian: neighbouring addresses (the hosts of one subnet) land on neighbouring bytes, so a batch to
/// many hosts touches a few cache lines, not one per host as a native-endian index would (measured: 2.9 → 2.3 ns per
/// IPv6 miss over 256 hosts). The second half has one per top-16-bit block some prefix route overlaps, indexed by the
/// address's FIRST two bytes read in NATIVE order (<see cref="BlockIndex"/>): packets to one prefix hit one byte
/// whatever the order, and a native 16-bit load needs no byte swap. Valid while the snapshot that made it is
/// reachable (it owns the pinned block); the dispatcher holds the snapshot for the whole batch.
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
    /// The index in a family's route half of the block whose first two address bytes, read big-endian, are
    /// <paramref name="block"/>: those two bytes read in native order.
    /// </summary>
    public static int BlockIndex(int block) =>
        BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness((ushort)block) : (ushort)block;

    /// <summary>
    /// True when <paramref name="packet"/> has a whole fixed IPv4 or IPv6 header and its destination is certainly
    /// neither a virtual IP nor inside a prefix route: drop it (no route). False means "not certain": ask
    /// <see cref="DispatchDecision.Decide"/>, which is exact on its own.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsMiss(ReadOnlySpan<byte> packet) =>
        AnyLength.Seen(_block, ref MemoryMarshal.GetReference(packet), packet.Length) == 0;

    /// <summary>
    /// Writes the slot of every packet of <paramref name="batch"/> that <see cref="IsMiss"/> does not reject to
    /// <paramref name="candidates"/>, in batch order, and returns how many there are: the rest are misses.
    /// </summary>
    /// <remarks>
    /// One pass over the lengths first (vectorized): when no packet is shorter than a fixed IPv6 header, which is
    /// what a TUN read almost always gives, the per-packet test needs no length checks at all. Then four packets
    /// per round without calls: each one's filter byte is computed, and only when one of the four is a candidate are
    /// the slots written (always, each count advanced by its byte, no branch per packet). A round of four misses
    /// costs the header loads, the filter loads and one branch.
    /// </remarks>
    public int Candidates(PacketBatch batch, Span<int> candidates)
    {
        ReadOnlySpan<int> offsets = batch.Offsets;
        ReadOnlySpan<int> lengths = batch.Lengths;
        if (candidates.Length < offsets.Length || lengths.Length != offsets.Length)
        {
            throw new ArgumentException($"room for {offsets.Length} candidates needed", nameof(candidates));
        }

        // With no packet shorter than a fixed IPv6 header, every byte the fast test reads lies inside its packet.
        return Shortest(lengths) >= IPv6Header.Length
            ? Candidates<AtLeastV6Header>(batch, candidates)
            : Candidates<AnyLength>(batch, candidates);
    }

    /// <summary>The general loop alone, whatever the lengths (what a batch with a short packet takes); for tests.</summary>
    internal int CandidatesAnyLength(PacketBatch batch, Span<int> candidates) => Candidates<AnyLength>(batch, candidates);

    // Specialized per test (a struct type argument): the JIT inlines TTest.Seen into the loop.
    private int Candidates<TTest>(PacketBatch batch, Span<int> candidates)
        where TTest : struct, IHeaderTest
    {
        // The filter in a local: the stores to the candidates could otherwise alias it and force a reload per packet.
        byte* filter = _block;

        // Native-width indexes and refs (the caller checked the lengths): no sign extension or bounds check per packet.
        ref byte arena = ref batch.Arena;
        ref int offset = ref MemoryMarshal.GetReference(batch.Offsets);
        ref int length = ref MemoryMarshal.GetReference(batch.Lengths);
        ref int slot = ref MemoryMarshal.GetReference(candidates);
        nuint count = (nuint)batch.Count;
        nuint found = 0;
        nuint i = 0;
        for (nuint rounds = count & ~(nuint)3; i < rounds; i += 4)
        {
            nuint a = TTest.Seen(filter, ref arena, Unsafe.Add(ref offset, i), ref Unsafe.Add(ref length, i));
            nuint b = TTest.Seen(filter, ref arena, Unsafe.Add(ref offset, i + 1), ref Unsafe.Add(ref length, i + 1));
            nuint c = TTest.Seen(filter, ref arena, Unsafe.Add(ref offset, i + 2), ref Unsafe.Add(ref length, i + 2));
            nuint d = TTest.Seen(filter, ref arena, Unsafe.Add(ref offset, i + 3), ref Unsafe.Add(ref length, i + 3));
            if ((a | b | c | d) != 0)
            {
                Unsafe.Add(ref slot, found) = (int)i;
                found += a;
                Unsafe.Add(ref slot, found) = (int)i + 1;
                found += b;
                Unsafe.Add(ref slot, found) = (int)i + 2;
                found += c;
                Unsafe.Add(ref slot, found) = (int)i + 3;
                found += d;
            }
        }

        for (; i < count; i++)
        {
            Unsafe.Add(ref slot, found) = (int)i;
            found += TTest.Seen(filter, ref arena, Unsafe.Add(ref offset, i), ref Unsafe.Add(ref length, i));
        }

        return (int)found;
    }

    // The shortest length of a batch: eight at a time, then the rest.
    private static int Shortest(ReadOnlySpan<int> lengths)
    {
        ref int length = ref MemoryMarshal.GetReference(lengths);
        nuint count = (nuint)lengths.Length;
        nuint i = 0;
        int shortest = int.MaxValue;
        if (Vector256.IsHardwareAccelerated && count >= (nuint)Vector256<int>.Count)
        {
            Vector256<int> least = Vector256.Create(int.MaxValue);
            for (; i + (nuint)Vector256<int>.Count <= count; i += (nuint)Vector256<int>.Count)
            {
                least = Vector256.Min(least, Vector256.LoadUnsafe(ref length, i));
            }

            Vector128<int> half = Vector128.Min(least.GetLower(), least.GetUpper());
            half = Vector128.Min(half, Vector128.Shuffle(half, Vector128.Create(2, 3, 0, 1)));
            half = Vector128.Min(half, Vector128.Shuffle(half, Vector128.Create(1, 0, 3, 2)));
            shortest = half.ToScalar();
        }

        for (; i < count; i++)
        {
            shortest = Math.Min(shortest, Unsafe.Add(ref length, i));
        }

        return shortest;
    }

    // The filter test for one packet: 0 when the packet is certainly a miss, 1 when it must be looked at (a filter
    // hit, or a header the fast path does not take: too short, another version). Filter bytes are 0 or 1, so the OR
    // of two is too.
    // The length is passed by reference so a test that does not need it does not load it.
    private interface IHeaderTest
    {
        static abstract nuint Seen(byte* filter, ref byte arena, int offset, ref int length);
    }

    // Any packet: the length is checked before each family's reads.
    private readonly struct AnyLength : IHeaderTest
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static nuint Seen(byte* filter, ref byte arena, int offset, ref int length) =>
            Seen(filter, ref Unsafe.Add(ref arena, (uint)offset), length);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static nuint Seen(byte* filter, ref byte start, int length)
        {
            // One result variable and one return, so an inlined IsMiss ends in a branch on the filter bytes.
            nuint seen = 1;
            if (length >= IPv4Header.MinLength)
            {
                int version = start >> 4;
                if (version == 4)
                {
                    seen = V4(filter, ref start);
                }
                else if (version == 6 && length >= IPv6Header.Length)
                {
                    seen = V6(filter, ref start);
                }
            }

            return seen;
        }
    }

    // A packet of at least a fixed IPv6 header's length (so of an IPv4 one too): no length checks.
    private readonly struct AtLeastV6Header : IHeaderTest
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static nuint Seen(byte* filter, ref byte arena, int offset, ref int length)
        {
            ref byte start = ref Unsafe.Add(ref arena, (uint)offset);
            int version = start >> 4;
            if (version == 6)
            {
                return V6(filter, ref start);
            }

            return version == 4 ? V4(filter, ref start) : 1;
        }
    }

    // Destination bytes 16..19: the tail index is bytes 18..19 big-endian, the block index bytes 16..17 native.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint V4(byte* filter, ref byte start)
    {
        nuint tail = BigEndian(ref Unsafe.Add(ref start, 16)) & 0xFFFF;
        nuint block = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, 16));
        return (nuint)filter[tail] | (filter + Half)[block];
    }

    // Destination bytes 24..39: the tail index is bytes 38..39 big-endian, the block index bytes 24..25 native.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint V6(byte* filter, ref byte start)
    {
        nuint tail = BigEndian(ref Unsafe.Add(ref start, 36)) & 0xFFFF;
        nuint block = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, 24));
        return (nuint)(filter + V6Offset)[tail] | (filter + V6Offset + Half)[block];
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
