using System.Runtime.InteropServices;

namespace Gateway.Plugins.WireGuard.Conn;

/// <summary>
/// The Linux socket calls the BCL does not expose: recvmmsg/sendmmsg (many datagrams per syscall) and the UDP
/// segmentation offloads (UDP_SEGMENT for sends, UDP_GRO for receives; udp(7)). Hand-written because no
/// package in our registry binds them; layouts are the LP64 ones (x86_64 and arm64).
/// </summary>
internal static unsafe partial class LinuxUdp
{
    /// <summary>recvmmsg: return as soon as one datagram is there (then everything already queued).</summary>
    public const int MsgWaitForOne = 0x10000;

    /// <summary>msg_flags: the datagram was larger than the buffer.</summary>
    public const int MsgTrunc = 0x20;

    /// <summary>SOL_UDP.</summary>
    public const int SolUdp = 17;

    /// <summary>UDP_SEGMENT (Linux 4.18): a send buffer is cut into datagrams of this size.</summary>
    public const int UdpSegment = 103;

    /// <summary>UDP_GRO (Linux 5.0): coalesced datagrams are received as one buffer with their size in a cmsg.</summary>
    public const int UdpGro = 104;

    /// <summary>shutdown(2) SHUT_RDWR.</summary>
    public const int ShutRdWr = 2;

    /// <summary>errno values (asm-generic).</summary>
    public const int EIntr = 4, EIo = 5, EBadF = 9, EAgain = 11, EInval = 22, EMsgSize = 90, EOpNotSupp = 95;

    /// <summary>sizeof(struct sockaddr_in6): large enough for either family.</summary>
    public const int SockaddrSize = 28;

    /// <summary>CMSG_SPACE(sizeof(int)): one cmsghdr (16 bytes) and an int padded to 8.</summary>
    public const int CmsgIntSpace = 24;

    /// <summary>CMSG_LEN(sizeof(__u16)): the kernel insists on exactly this cmsg_len for UDP_SEGMENT.</summary>
    public const int CmsgSegmentLength = 18;

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        /// <summary>iov_base.</summary>
        public void* Base;

        /// <summary>iov_len.</summary>
        public nuint Length;
    }

    /// <summary>struct mmsghdr (a struct msghdr and the byte count of the datagram).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        /// <summary>msg_name.</summary>
        public void* Name;

        /// <summary>msg_namelen.</summary>
        public uint NameLength;

        /// <summary>msg_iov.</summary>
        public IoVec* Iov;

        /// <summary>msg_iovlen.</summary>
        public nuint IovLength;

        /// <summary>msg_control.</summary>
        public void* Control;

        /// <summary>msg_controllen.</summary>
        public nuint ControlLength;

        /// <summary>msg_flags.</summary>
        public int Flags;

        /// <summary>The padding that ends struct msghdr (56 bytes on LP64).</summary>
        private int _padding;

        /// <summary>msg_len: bytes received or sent.</summary>
        public uint Length;
    }

    /// <summary>struct cmsghdr.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct CMsgHdr
    {
        /// <summary>cmsg_len.</summary>
        public nuint Length;

        /// <summary>cmsg_level.</summary>
        public int Level;

        /// <summary>cmsg_type.</summary>
        public int Type;
    }

    /// <summary>recvmmsg(2).</summary>
    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int RecvMMsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    /// <summary>sendmmsg(2).</summary>
    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int SendMMsg(int fd, MMsgHdr* messages, uint count, int flags);

    /// <summary>setsockopt(2).</summary>
    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    /// <summary>getsockopt(2).</summary>
    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(int fd, int level, int name, void* value, uint* length);

    /// <summary>shutdown(2): wakes a thread blocked in recvmmsg on this socket.</summary>
    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);

    /// <summary>True when the kernel accepts UDP_SEGMENT on this socket (GSO sends).</summary>
    public static bool SupportsGso(int fd)
    {
        int value = 0;
        uint length = sizeof(int);
        return GetSockOpt(fd, SolUdp, UdpSegment, &value, &length) == 0;
    }

    /// <summary>Turns UDP_GRO on; false when the kernel does not know it.</summary>
    public static bool EnableGro(int fd)
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
