using System.Runtime.InteropServices;

namespace Gateway.Host.Sockets;

/// <summary>
/// recvmmsg(2) and sendmmsg(2) on 64-bit Linux: many datagrams per system call for the UDP host sockets.
/// The structs are the kernel's <c>struct mmsghdr</c>/<c>msghdr</c>/<c>iovec</c> (LP64 layout).
/// </summary>
internal static unsafe partial class UdpBatchNative
{
    /// <summary>MSG_WAITFORONE: block for the first datagram only, then take what is queued.</summary>
    public const int MsgWaitForOne = 0x10000;

    /// <summary>Bytes reserved per socket address (sockaddr_in6 is 28).</summary>
    public const int AddressSlot = 32;

    public const int EAgain = 11;
    public const int EIntr = 4;
    public const int EBadF = 9;
    public const int ENotSock = 88;
    public const int EConnRefused = 111;
    public const int EMsgSize = 90;
    public const int EInval = 22;

    /// <summary>Whether the batched path can be used here (Linux, 64-bit, recvmmsg present).</summary>
    public static bool IsSupported { get; } = OperatingSystem.IsLinux() && IntPtr.Size == 8 && sizeof(MMsgHdr) == 64;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public byte* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int RecvMmsg(nint fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int SendMmsg(nint fd, MMsgHdr* messages, uint count, int flags);
}
