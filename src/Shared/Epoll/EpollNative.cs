// Linked into http-proxy and dns-dot, in each one's namespace: see EpollLoop.cs.
using System.Net.Sockets;
using System.Runtime.InteropServices;

#if GATEWAY_DNSDOT
namespace Gateway.Plugins.DnsDot.Server.Epoll;
#else
namespace Gateway.Plugins.HttpProxy.Io.Epoll;
#endif

/// <summary>
/// The Linux calls <see cref="EpollLoop"/> and <see cref="LoopSocket"/> make (epoll(7), recv(2)/send(2) with
/// MSG_DONTWAIT, a non-blocking connect(2), eventfd(2)). Hand-written because System.Net.Sockets gives no way to run a
/// socket's completions on a thread of our own (docs/dependencies.md, BENCHMARKS.md "SOCKS5 on the plugin's own epoll
/// loop"), and no package in our registry binds these calls.
/// </summary>
internal static unsafe partial class EpollNative
{
    public const uint EpollIn = 0x001;
    public const uint EpollOut = 0x004;
    public const uint EpollErr = 0x008;
    public const uint EpollHup = 0x010;
    public const uint EpollRdHup = 0x2000;
    public const uint EpollEt = 1u << 31;

    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;
    public const int EpollCloexec = 0x80000;
    public const int EfdCloexec = 0x80000;
    public const int EfdNonblock = 0x800;

    public const int MsgDontWait = 0x40;
    public const int MsgNoSignal = 0x4000;

    public const int SolSocket = 1;
    public const int SoError = 4;
    public const int ShutWr = 1;
    public const int ShutRdWr = 2;

    /// <summary>FIONBIO: one ioctl sets O_NONBLOCK (fcntl needs two calls, F_GETFL then F_SETFL).</summary>
    public const ulong FionBio = 0x5421;

    public const int EIntr = 4;
    public const int EAgain = 11;
    public const int EInProgress = 115;

    /// <summary>
    /// Linux on x86-64 or arm64 (the two layouts of struct epoll_event below). Anywhere else SOCKS runs on
    /// System.Net.Sockets as HTTP does.
    /// </summary>
    public static bool IsSupported { get; } = OperatingSystem.IsLinux()
        && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    /// <summary>sizeof(struct epoll_event): packed (12) on x86-64, naturally aligned (16) elsewhere.</summary>
    public static int EventSize { get; } = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    /// <summary>Offset of epoll_event.data.</summary>
    public static int EventDataOffset { get; } = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollCtl(int epfd, int op, int fd, byte* ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epfd, byte* events, int maxEvents, int timeout);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    public static partial nint Send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "connect", SetLastError = true)]
    public static partial int Connect(int fd, byte* address, uint length);

    [LibraryImport("libc", EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(int fd, int level, int name, int* value, uint* length);

    [LibraryImport("libc", EntryPoint = "getsockname", SetLastError = true)]
    public static partial int GetSockName(int fd, byte* address, uint* length);

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, ulong request, int* argument);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint length);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nuint length);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    /// <summary>Makes the socket non-blocking (FIONBIO) without telling System.Net.Sockets, which will not use it.</summary>
    public static void SetNonBlocking(Socket socket)
    {
        int one = 1;
        if (Ioctl((int)socket.SafeHandle.DangerousGetHandle(), FionBio, &one) != 0)
        {
            throw new SocketException((int)ToSocketError(Marshal.GetLastPInvokeError()));
        }
    }

    /// <summary>Adds <paramref name="fd"/> edge-triggered for reads and writes, with <paramref name="token"/> as its data.</summary>
    public static int Add(int epfd, int fd, ulong token)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = EpollIn | EpollOut | EpollRdHup | EpollEt;
        *(ulong*)(ev + EventDataOffset) = token;
        return EpollCtl(epfd, EpollCtlAdd, fd, ev);
    }

    /// <summary>The <see cref="SocketError"/> for an errno from these calls (the codes SOCKS replies and logs tell apart).</summary>
    public static SocketError ToSocketError(int errno) => errno switch
    {
        104 => SocketError.ConnectionReset,
        32 => SocketError.Shutdown,          // EPIPE
        111 => SocketError.ConnectionRefused,
        110 => SocketError.TimedOut,
        113 => SocketError.HostUnreachable,
        112 => SocketError.HostDown,
        101 => SocketError.NetworkUnreachable,
        100 => SocketError.NetworkDown,
        103 => SocketError.ConnectionAborted,
        107 => SocketError.NotConnected,
        99 => SocketError.AddressNotAvailable,
        13 or 1 => SocketError.AccessDenied,
        9 => SocketError.OperationAborted,  // EBADF: closed under us
        _ => SocketError.SocketError,
    };
}
