using System.Runtime.InteropServices;

namespace Gateway.Host.Tun;

/// <summary>
/// Packets read in one wake-up of a device's read loop: one reused, pinned arena that packets are appended to
/// back to back (a GSO super-packet is split straight into it), plus the offset and length of each packet.
/// Owned by the read loop's thread.
/// </summary>
internal sealed class PacketBatch
{
    private readonly byte[] _arena;
    private readonly int[] _offsets;
    private readonly int[] _lengths;
    private int _used;

    /// <summary>Creates a batch of at most <paramref name="capacity"/> packets sharing <paramref name="arenaBytes"/> bytes.</summary>
    public PacketBatch(int capacity, int arenaBytes)
    {
        _arena = GC.AllocateUninitializedArray<byte>(arenaBytes, pinned: true);
        _offsets = new int[capacity];
        _lengths = new int[capacity];
    }

    /// <summary>The number of slots.</summary>
    public int Capacity => _offsets.Length;

    /// <summary>The number of packets in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>Slots still free.</summary>
    public int FreeSlots => _offsets.Length - Count;

    /// <summary>The free space at the end of the arena (write the next packet here, then <see cref="Commit"/>).</summary>
    public Span<byte> Space => _arena.AsSpan(_used);

    /// <summary>The first byte of the arena: packet <c>i</c> starts <see cref="Offsets"/>[i] bytes after it.</summary>
    public ref byte Arena => ref MemoryMarshal.GetArrayDataReference(_arena);

    /// <summary>The arena offset of each packet in the batch.</summary>
    public ReadOnlySpan<int> Offsets => _offsets.AsSpan(0, Count);

    /// <summary>The length of each packet in the batch.</summary>
    public ReadOnlySpan<int> Lengths => _lengths.AsSpan(0, Count);

    /// <summary>The packet in slot <paramref name="index"/>.</summary>
    public Span<byte> this[int index] => _arena.AsSpan(_offsets[index], _lengths[index]);

    /// <summary>Empties the batch.</summary>
    public void Clear()
    {
        Count = 0;
        _used = 0;
    }

    /// <summary>Appends the packet of <paramref name="length"/> bytes just written at the start of <see cref="Space"/>.</summary>
    public void Commit(int length)
    {
        // Readers of the batch (the dispatcher's miss filter) rely on every packet lying inside the arena.
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _arena.Length - _used);
        _offsets[Count] = _used;
        _lengths[Count] = length;
        Count++;
        _used += length;
    }

    /// <summary>Copies <paramref name="packet"/> into the batch; false when it has no room (slots or bytes) left.</summary>
    public bool TryAdd(ReadOnlySpan<byte> packet)
    {
        if (IsFull || packet.Length > _arena.Length - _used)
        {
            return false;
        }

        packet.CopyTo(_arena.AsSpan(_used));
        Commit(packet.Length);
        return true;
    }

    /// <summary>True when every slot holds a packet.</summary>
    public bool IsFull => Count == _offsets.Length;
}
