using System.Net;
using System.Runtime.InteropServices;

namespace Gateway.Plugins.WireGuard.Conn;

/// <summary>
/// Encrypted datagrams waiting to be sent together: written back to back into one unmanaged buffer (stable
/// addresses for sendmmsg's iovecs, and consecutive same-size datagrams to one peer already form a UDP GSO
/// super-buffer), each with its destination. Not thread-safe: the owner serialises access.
/// </summary>
internal sealed unsafe class SendBatch : IDisposable
{
    /// <summary>Datagrams per batch (wireguard-go's IdealBatchSize is 128; 64 keeps a batch in L2).</summary>
    public const int MaxDatagrams = 64;

    /// <summary>Bytes of datagram space; enough for <see cref="MaxDatagrams"/> full-MTU messages or one 64 KiB one.</summary>
    public const int CapacityBytes = 160 * 1024;

    private readonly int[] _offsets = new int[MaxDatagrams];
    private readonly int[] _lengths = new int[MaxDatagrams];
    private readonly SocketAddress?[] _destinations = new SocketAddress?[MaxDatagrams];
    private byte* _buffer;
    private int _used;

    /// <summary>Allocates the buffer.</summary>
    public SendBatch()
    {
        _buffer = (byte*)NativeMemory.AlignedAlloc(CapacityBytes, 64);
    }

    /// <summary>Finalizer: the buffer is unmanaged.</summary>
    ~SendBatch() => Free();

    /// <summary>Datagrams in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>True when another datagram may not fit.</summary>
    public bool IsFull => Count == MaxDatagrams || _used > CapacityBytes - 2048;

    /// <summary>
    /// Space for a datagram of at most <paramref name="maxLength"/> bytes at the end of the batch, or an empty span
    /// when it does not fit (send the batch first).
    /// </summary>
    public Span<byte> Reserve(int maxLength) =>
        Count < MaxDatagrams && maxLength <= CapacityBytes - _used ? new Span<byte>(_buffer + _used, maxLength) : default;

    /// <summary>Appends the datagram written into the last <see cref="Reserve"/>d span.</summary>
    public void Commit(int length, SocketAddress destination)
    {
        _offsets[Count] = _used;
        _lengths[Count] = length;
        _destinations[Count] = destination;
        Count++;
        _used += length;
    }

    /// <summary>Datagram <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Datagram(int index) => new(_buffer + _offsets[index], _lengths[index]);

    /// <summary>The address of datagram <paramref name="index"/> (valid until <see cref="Clear"/>).</summary>
    public byte* Pointer(int index) => _buffer + _offsets[index];

    /// <summary>The length of datagram <paramref name="index"/>.</summary>
    public int Length(int index) => _lengths[index];

    /// <summary>The destination of datagram <paramref name="index"/>.</summary>
    public SocketAddress Destination(int index) => _destinations[index]!;

    /// <summary>Empties the batch.</summary>
    public void Clear()
    {
        Array.Clear(_destinations, 0, Count);
        Count = 0;
        _used = 0;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        byte* buffer = _buffer;
        _buffer = null;
        if (buffer is not null)
        {
            NativeMemory.AlignedFree(buffer);
        }
    }
}
