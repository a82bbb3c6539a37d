// One copy of the Linux batched-UDP interop for every assembly that needs it (issue 19, "one copy of each
// thing"): linked into host/ and plugins/wireguard/ with <Compile Include=... Link=...>, never put in the SDK
// (DESIGN §3: the SDK carries no P/Invoke). Each assembly gets its own internal copy, named in that assembly's
// namespace, so a test project that sees the internals of both (InternalsVisibleTo) never finds two types of
// the same full name.
using System.Runtime.InteropServices;

#if GATEWAY_WIREGUARD
namespace Gateway.Plugins.WireGuard.Conn;
#else
namespace Gateway.Host.Sockets;
#endif

/// <summary>
/// recvmmsg(2) and sendmmsg(2) on 64-bit Linux (many datagrams per system call) and the UDP segmentation
/// offloads (UDP_SEGMENT for sends, UDP_GRO for receives; udp(7)). The structs are the kernel's
/// <c>struct mmsghdr</c>/<c>msghdr</c>/<c>iovec</c>/<c>cmsghdr</c> (LP64 layout, x86_64 and arm64). Hand-written
/// because no package in our registry binds these calls.
/// </summary>
internal static unsafe partial class UdpBatchNative
{
    /// <summary>MSG_WAITFORONE: block for the first datagram only, then take what is queued.</summary>
    public const int MsgWaitForOne = 0x10000;

    /// <summary>msg_flags MSG_TRUNC: the datagram was larger than the buffer.</summary>
    public const int MsgTrunc = 0x20;

    /// <summary>Bytes reserved per socket address (sockaddr_in6 is 28, rounded up to keep slots 8-byte aligned).</summary>
    public const int AddressSlot = 32;

    /// <summary>sizeof(struct sockaddr_in6): the largest address either family needs.</summary>
    public const int SockaddrIn6Size = 28;

    /// <summary>SOL_UDP.</summary>
    public const int SolUdp = 17;

    /// <summary>UDP_SEGMENT (Linux 4.18): a send buffer is cut into datagrams of this size.</summary>
    public const int UdpSegment = 103;

    /// <summary>UDP_GRO (Linux 5.0): coalesced datagrams are received as one buffer with their size in a cmsg.</summary>
    public const int UdpGro = 104;

    /// <summary>shutdown(2) SHUT_RDWR.</summary>
    public const int ShutRdWr = 2;

    /// <summary>CMSG_SPACE(sizeof(int)): one cmsghdr (16 bytes) and an int padded to 8.</summary>
    public const int CmsgIntSpace = 24;

    /// <summary>CMSG_LEN(sizeof(__u16)): the kernel insists on exactly this cmsg_len for UDP_SEGMENT.</summary>
    public const int CmsgSegmentLength = 18;

    // errno values (asm-generic).
    public const int EIntr = 4;
    public const int EIo = 5;
    public const int EBadF = 9;
    public const int EAgain = 11;
    public const int EInval = 22;
    public const int ENotSock = 88;
    public const int EMsgSize = 90;
    public const int EOpNotSupp = 95;
    public const int ENetUnreach = 101;
    public const int EConnRefused = 111;
    public const int EHostUnreach = 113;

    /// <summary>Whether the batched path can be used here (Linux, 64-bit, the LP64 layout).</summary>
    public static bool IsSupported { get; } = OperatingSystem.IsLinux() && IntPtr.Size == 8 && sizeof(MMsgHdr) == 64;

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr.</summary>
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

    /// <summary>struct mmsghdr: a msghdr and the byte count of the datagram.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    /// <summary>struct cmsghdr.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct CMsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    // The fd is the C int of the calls; it is passed as the socket handle (nint) as SafeHandle gives it: on LP64
    // the callee reads the low 32 bits of the register.
    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int RecvMmsg(nint fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int SendMmsg(nint fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(nint fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(nint fd, int level, int name, void* value, uint* length);

    /// <summary>shutdown(2): wakes a thread blocked in recvmmsg on this socket.</summary>
    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(nint fd, int how);

    /// <summary>True when the kernel accepts UDP_SEGMENT on this socket (GSO sends).</summary>
    public static bool SupportsGso(nint fd)
    {
        int value = 0;
        uint length = sizeof(int);
        return GetSockOpt(fd, SolUdp, UdpSegment, &value, &length) == 0;
    }

    /// <summary>Turns UDP_GRO on; false when the kernel does not know it.</summary>
    public static bool EnableGro(nint fd)
    {
        int one = 1;
        return SetSockOpt(fd, SolUdp, UdpGro, &one, sizeof(int)) == 0;
    }

    /// <summary>The UDP_GRO segment size in a received control buffer, or 0 when there is none.</summary>
    public static int GroSegmentSize(byte* control, nuint length)
    {
        nuint offset = 0;
        while (offset + (nuint)sizeof(CMsgHdr) <= length)
        {
            var header = (CMsgHdr*)(control + offset);
            if (header->Length < (nuint)sizeof(CMsgHdr))
            {
                return 0;
            }

            if (header->Level == SolUdp && header->Type == UdpGro)
            {
                return *(int*)(control + offset + (nuint)sizeof(CMsgHdr));
            }

            offset += (header->Length + 7) & ~(nuint)7;
        }

        return 0;
    }

    /// <summary>Writes a UDP_SEGMENT cmsg (a __u16, udp(7)) with <paramref name="segmentSize"/> into <paramref name="control"/> (CmsgIntSpace bytes).</summary>
    public static void WriteSegmentCmsg(byte* control, int segmentSize)
    {
        var header = (CMsgHdr*)control;
        header->Length = CmsgSegmentLength;
        header->Level = SolUdp;
        header->Type = UdpSegment;
        *(ushort*)(control + sizeof(CMsgHdr)) = (ushort)segmentSize;
    }
}
