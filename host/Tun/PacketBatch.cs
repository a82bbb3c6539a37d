namespace Gateway.Host.Tun;

/// <summary>
/// Packets read in one wake-up of a device's read loop: fixed, reused buffers (one per slot) and the
/// length of each packet. Owned by the read loop's thread.
/// </summary>
internal sealed class PacketBatch
{
    private readonly byte[][] _buffers;
    private readonly int[] _lengths;

    /// <summary>Creates <paramref name="capacity"/> slots of <paramref name="bufferSize"/> bytes.</summary>
    public PacketBatch(int capacity, int bufferSize)
    {
        _buffers = new byte[capacity][];
        _lengths = new int[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _buffers[i] = GC.AllocateUninitializedArray<byte>(bufferSize, pinned: true);
        }
    }

    /// <summary>The number of slots.</summary>
    public int Capacity => _buffers.Length;

    /// <summary>The number of packets in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>The packet in slot <paramref name="index"/>.</summary>
    public Span<byte> this[int index] => _buffers[index].AsSpan(0, _lengths[index]);

    /// <summary>The whole buffer of slot <paramref name="index"/> (to read into).</summary>
    public byte[] Buffer(int index) => _buffers[index];

    /// <summary>Empties the batch.</summary>
    public void Clear() => Count = 0;

    /// <summary>Appends the packet just read into slot <see cref="Count"/>.</summary>
    public void Commit(int length) => _lengths[Count++] = length;

    /// <summary>True when every slot holds a packet.</summary>
    public bool IsFull => Count == _buffers.Length;
}
