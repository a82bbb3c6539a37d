using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;

namespace Gateway.Host.Sockets;

/// <summary>
/// Replies queued on one thread during a <see cref="DatagramBatch"/>, sent with one sendmmsg(2) when the batch
/// ends (or when the queue is full, or a reply for another socket arrives). One instance per thread; its
/// buffers live on the pinned object heap, so the native headers can point into them.
/// </summary>
internal sealed unsafe class UdpReplyBatch : IDatagramBatchParticipant
{
    /// <summary>Replies per sendmmsg.</summary>
    public const int MaxReplies = 64;

    /// <summary>Payload bytes held per batch; a larger reply is sent on its own.</summary>
    public const int ArenaSize = 64 * 1024;

    [ThreadStatic]
    private static UdpReplyBatch? t_current;

    private readonly byte[] _arena = GC.AllocateUninitializedArray<byte>(ArenaSize, pinned: true);
    private readonly byte[] _addresses = GC.AllocateArray<byte>(MaxReplies * UdpBatchNative.AddressSlot, pinned: true);
    private readonly UdpBatchNative.IoVec[] _iov = GC.AllocateArray<UdpBatchNative.IoVec>(MaxReplies, pinned: true);
    private readonly UdpBatchNative.MMsgHdr[] _headers = GC.AllocateArray<UdpBatchNative.MMsgHdr>(MaxReplies, pinned: true);
    private UdpHostListener? _owner;
    private int _count;
    private int _arenaUsed;

    /// <summary>The current thread's batch.</summary>
    public static UdpReplyBatch Current => t_current ??= new UdpReplyBatch();

    /// <summary>Replies queued and not yet sent.</summary>
    public int Count => _count;

    /// <summary>
    /// Queues a reply from <paramref name="owner"/>'s socket; false when it cannot be queued (larger than the
    /// arena: the caller sends it at once).
    /// </summary>
    public bool TryQueue(UdpHostListener owner, NetEndpoint client, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > ArenaSize)
        {
            return false;
        }

        if (_count > 0 && (!ReferenceEquals(owner, _owner) || _count == MaxReplies || _arenaUsed + payload.Length > ArenaSize))
        {
            Flush();
        }

        if (_count == 0)
        {
            _owner = owner;
            DatagramBatch.Enlist(this);
        }

        int index = _count++;
        payload.CopyTo(_arena.AsSpan(_arenaUsed));
        int addressLength = SocketAddressCodec.WriteNative(_addresses.AsSpan(index * UdpBatchNative.AddressSlot, UdpBatchNative.AddressSlot), client);
        byte* arena = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_arena));
        byte* addresses = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_addresses));
        UdpBatchNative.IoVec* iov = (UdpBatchNative.IoVec*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_iov));
        iov[index].Base = arena + _arenaUsed;
        iov[index].Length = (nuint)payload.Length;
        ref UdpBatchNative.MMsgHdr header = ref _headers[index];
        header.Header.Name = addresses + (index * UdpBatchNative.AddressSlot);
        header.Header.NameLength = (uint)addressLength;
        header.Header.Iov = iov + index;
        header.Header.IovLength = 1;
        header.Header.Control = null;
        header.Header.ControlLength = 0;
        header.Header.Flags = 0;
        header.Length = 0;
        _arenaUsed += payload.Length;
        return true;
    }

    /// <inheritdoc/>
    public void FlushBatch() => Flush();

    /// <summary>Sends every queued reply.</summary>
    public void Flush()
    {
        if (_count == 0)
        {
            return;
        }

        UdpHostListener owner = _owner!;
        int count = _count;
        _count = 0;
        _arenaUsed = 0;
        _owner = null;
        owner.SendQueued((UdpBatchNative.MMsgHdr*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_headers)), count);
    }
}
