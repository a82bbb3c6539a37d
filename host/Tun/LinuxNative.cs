using System.Runtime.InteropServices;

namespace Gateway.Host.Tun;

/// <summary>The few libc calls the Linux TUN device and rtnetlink need (P/Invoke; no shelling out to <c>ip</c>).</summary>
internal static unsafe partial class LinuxNative
{
    public const int ORdWr = 0x2;
    public const int ONonBlock = 0x800;
    public const int OCloExec = 0x80000;
    public const short IffTun = 0x0001;
    public const short IffNoPi = 0x1000;
    public const short IffVnetHdr = 0x4000;
    public const uint TunSetIff = 0x400454ca;

    // _IOW('T', 208, unsigned int): the offloads the TUN may hand us (include/uapi/linux/if_tun.h).
    public const uint TunSetOffload = 0x400454d0;
    public const uint TunFCsum = 0x01;
    public const uint TunFTso4 = 0x02;
    public const uint TunFTso6 = 0x04;
    public const uint TunFUso4 = 0x20;
    public const uint TunFUso6 = 0x40;
    public const int EInval = 22;
    public const short PollIn = 0x1;
    public const int EAgain = 11;
    public const int EIntr = 4;
    public const int AfNetlink = 16;
    public const int SockRaw = 3;
    public const int SockCloExec = 0x80000;
    public const int NetlinkRoute = 0;
    public const int EfdNonBlock = 0x800;
    public const int EfdCloExec = 0x80000;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nuint count);

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [LibraryImport("libc", EntryPoint = "writev", SetLastError = true)]
    public static partial nint Writev(int fd, IoVec* iov, int count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    public static partial nint Send(int fd, void* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(int fd, void* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint IfNameToIndex(string name);
}
