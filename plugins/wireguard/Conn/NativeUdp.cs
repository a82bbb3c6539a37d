using System.Net;
using System.Runtime.InteropServices;

namespace Gateway.Plugins.WireGuard.Conn;

/// <summary>
/// The unmanaged message vectors of one Linux UDP socket: a receive ring for recvmmsg (one buffer per slot, big
/// enough for a UDP GRO buffer) and a send vector for sendmmsg (iovecs point into a <see cref="SendBatch"/>).
/// Receive state belongs to the socket's receive thread; send state is guarded by <see cref="SendLock"/>.
/// </summary>
internal sealed unsafe class NativeUdp : IDisposable
{
    /// <summary>Bytes per receive slot: the largest UDP payload (a GRO buffer is at most 64 KiB).</summary>
    public const int SlotBytes = 65536;

    /// <summary>Linux's UDP_MAX_SEGMENTS before 6.9 (it is 128 since); larger GSO sends fail with EINVAL.</summary>
    private const int MaxGsoSegments = 64;

    /// <summary>A GSO buffer must fit one UDP datagram (64 KiB minus the IPv6 and UDP headers, rounded down).</summary>
    private const int MaxGsoBytes = 65000;

    private readonly nint _fd;
    private readonly int _slots;
    private readonly bool _gro;
    private UdpBatchNative.MMsgHdr* _rxHeaders;
    private UdpBatchNative.IoVec* _rxIov;
    private byte* _rxNames;
    private byte* _rxControl;
    private byte* _rxBuffers;
    private UdpBatchNative.MMsgHdr* _txHeaders;
    private UdpBatchNative.IoVec* _txIov;
    private byte* _txNames;
    private byte* _txControl;

    /// <summary>Allocates the vectors for socket <paramref name="fd"/>.</summary>
    public NativeUdp(nint fd, int slots, bool gro)
    {
        _fd = fd;
        _slots = slots;
        _gro = gro;
        _rxHeaders = Alloc<UdpBatchNative.MMsgHdr>(slots);
        _rxIov = Alloc<UdpBatchNative.IoVec>(slots);
        _rxNames = (byte*)NativeMemory.AllocZeroed((nuint)(slots * UdpBatchNative.AddressSlot));
        _rxControl = (byte*)NativeMemory.AllocZeroed((nuint)(slots * ControlBytes));

        // Not zeroed: pages become resident only as datagrams land in them.
        _rxBuffers = (byte*)NativeMemory.AlignedAlloc((nuint)slots * SlotBytes, 4096);
        for (int i = 0; i < slots; i++)
        {
            _rxIov[i].Base = _rxBuffers + ((nint)i * SlotBytes);
            _rxIov[i].Length = SlotBytes;
            _rxHeaders[i].Header.Iov = _rxIov + i;
            _rxHeaders[i].Header.IovLength = 1;
            _rxHeaders[i].Header.Name = _rxNames + (i * UdpBatchNative.AddressSlot);
            _rxHeaders[i].Header.Control = _rxControl + (i * ControlBytes);
        }

        _txHeaders = Alloc<UdpBatchNative.MMsgHdr>(SendBatch.MaxDatagrams);
        _txIov = Alloc<UdpBatchNative.IoVec>(SendBatch.MaxDatagrams);
        _txNames = (byte*)NativeMemory.AllocZeroed((nuint)(SendBatch.MaxDatagrams * UdpBatchNative.AddressSlot));
        _txControl = (byte*)NativeMemory.AllocZeroed((nuint)(SendBatch.MaxDatagrams * UdpBatchNative.CmsgIntSpace));
    }

    /// <summary>Finalizer: the vectors are unmanaged.</summary>
    ~NativeUdp() => Free();

    /// <summary>Guards the send vector.</summary>
    public Lock SendLock { get; } = new();

    /// <summary>The errno of the last failed send (0 = none); read and reset by the caller.</summary>
    public int LastError { get; set; }

    private static int ControlBytes => 64;

    /// <summary>Waits for datagrams and returns how many slots were filled, or -1 with <paramref name="errno"/>.</summary>
    public int Receive(out int errno)
    {
        for (int i = 0; i < _slots; i++)
        {
            _rxHeaders[i].Header.NameLength = UdpBatchNative.AddressSlot;
            _rxHeaders[i].Header.ControlLength = _gro ? (nuint)ControlBytes : 0;
            _rxHeaders[i].Header.Flags = 0;
        }

        int count = UdpBatchNative.RecvMmsg(_fd, _rxHeaders, (uint)_slots, UdpBatchNative.MsgWaitForOne, null);
        errno = count < 0 ? Marshal.GetLastPInvokeError() : 0;
        return count;
    }

    /// <summary>
    /// Received slot <paramref name="index"/>: its bytes, its sender (written into <paramref name="source"/>) and, for a
    /// UDP GRO buffer, the size of the datagrams in it (0 otherwise).
    /// </summary>
    public Span<byte> Datagram(int index, SocketAddress source, out int segmentSize, out bool truncated)
    {
        ref UdpBatchNative.MMsgHdr header = ref _rxHeaders[index];
        truncated = (header.Header.Flags & UdpBatchNative.MsgTrunc) != 0;
        int nameLength = (int)Math.Min(header.Header.NameLength, (uint)UdpBatchNative.AddressSlot);
        Span<byte> name = source.Buffer.Span;
        new ReadOnlySpan<byte>(header.Header.Name, nameLength).CopyTo(name);
        source.Size = nameLength;
        segmentSize = _gro ? UdpBatchNative.GroSegmentSize((byte*)header.Header.Control, header.Header.ControlLength) : 0;
        return new Span<byte>(_rxIov[index].Base, (int)header.Length);
    }

    /// <summary>
    /// Sends datagrams [<paramref name="start"/>, <paramref name="end"/>) of <paramref name="batch"/> with sendmmsg;
    /// with <paramref name="gso"/>, runs of equal-size datagrams to one destination go out as one UDP GSO buffer.
    /// Returns the bytes sent; <paramref name="gsoFailed"/> says the kernel refused GSO (the run was resent without).
    /// </summary>
    public long SendRun(SendBatch batch, int start, int end, bool gso, out bool gsoFailed)
    {
        gsoFailed = false;
        int messages = 0;
        int i = start;
        while (i < end)
        {
            SocketAddress destination = batch.Destination(i);
            int size = batch.Length(i);
            int j = i + 1;
            int total = size;
            if (gso)
            {
                // Consecutive datagrams are contiguous in the batch buffer; the last of a GSO run may be shorter.
                while (j < end && j - i < MaxGsoSegments && batch.Length(j) <= size && total + batch.Length(j) <= MaxGsoBytes &&
                       SameDestination(batch.Destination(j), destination))
                {
                    total += batch.Length(j);
                    bool shorter = batch.Length(j) < size;
                    j++;
                    if (shorter)
                    {
                        break;
                    }
                }
            }

            ref UdpBatchNative.MMsgHdr header = ref _txHeaders[messages];
            byte* name = _txNames + (messages * UdpBatchNative.AddressSlot);
            int nameLength = Math.Min(destination.Size, UdpBatchNative.AddressSlot);
            destination.Buffer.Span[..nameLength].CopyTo(new Span<byte>(name, UdpBatchNative.AddressSlot));
            _txIov[messages].Base = batch.Pointer(i);
            _txIov[messages].Length = (nuint)total;
            header.Header.Name = name;
            header.Header.NameLength = (uint)nameLength;
            header.Header.Iov = _txIov + messages;
            header.Header.IovLength = 1;
            header.Header.Flags = 0;
            header.Length = 0;
            if (j - i > 1)
            {
                byte* control = _txControl + (messages * UdpBatchNative.CmsgIntSpace);
                UdpBatchNative.WriteSegmentCmsg(control, size);
                header.Header.Control = control;
                header.Header.ControlLength = UdpBatchNative.CmsgIntSpace;
            }
            else
            {
                header.Header.Control = null;
                header.Header.ControlLength = 0;
            }

            messages++;
            i = j;
        }

        long sent = 0;
        int done = 0;
        while (done < messages)
        {
            int n = UdpBatchNative.SendMmsg(_fd, _txHeaders + done, (uint)(messages - done), 0);
            if (n > 0)
            {
                for (int k = done; k < done + n; k++)
                {
                    sent += (long)_txIov[k].Length;
                }

                done += n;
                continue;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == UdpBatchNative.EIntr)
            {
                continue;
            }

            if (_txHeaders[done].Header.ControlLength != 0 && errno is UdpBatchNative.EIo or UdpBatchNative.EInval or UdpBatchNative.EOpNotSupp or UdpBatchNative.EMsgSize)
            {
                gsoFailed = true;
                sent += ResendWithoutGso(done, batch, start, end);
                return sent;
            }

            // The first message could not be sent (unreachable, no route): skip it, send the rest.
            LastError = errno;
            done++;
        }

        return sent;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private long ResendWithoutGso(int failedMessage, SendBatch batch, int start, int end)
    {
        // Find the first datagram of the failed message and send it and everything after it one by one.
        byte* first = (byte*)_txIov[failedMessage].Base;
        int index = start;
        while (index < end && batch.Pointer(index) != first)
        {
            index++;
        }

        return SendRun(batch, index, end, gso: false, out _);
    }

    private static bool SameDestination(SocketAddress a, SocketAddress b) => SocketAddressCodec.Same(a, b);

    private static T* Alloc<T>(int count)
        where T : unmanaged => (T*)NativeMemory.AllocZeroed((nuint)(count * sizeof(T)));

    private void Free()
    {
        Release(ref _rxHeaders);
        Release(ref _rxIov);
        Release(ref _rxNames);
        Release(ref _rxControl);
        if (_rxBuffers is not null)
        {
            NativeMemory.AlignedFree(_rxBuffers);
            _rxBuffers = null;
        }

        Release(ref _txHeaders);
        Release(ref _txIov);
        Release(ref _txNames);
        Release(ref _txControl);
    }

    private static void Release<T>(ref T* pointer)
        where T : unmanaged
    {
        if (pointer is not null)
        {
            NativeMemory.Free(pointer);
            pointer = null;
        }
    }
}
