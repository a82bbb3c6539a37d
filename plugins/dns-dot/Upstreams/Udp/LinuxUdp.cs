using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Gateway.Plugins.DnsDot.Upstreams.Udp;

/// <summary>
/// The few Linux calls the UDP upstream needs, on raw descriptors: a source port per query (connect — which binds
/// a random ephemeral port —, send, recv, and a disconnect that gives the port back), sockets kept open between
/// queries, and one epoll set read by one thread. Raw descriptors rather than <see cref="Socket"/> objects because
/// the calls are per query and a managed Socket plus its SafeHandle would make the forwarding path allocate.
/// </summary>
internal static partial class LinuxUdp
{
    public const int EpollIn = 0x001;
    public const int EpollErr = 0x008;
    public const int EpollCtlAdd = 1;
    public const int EpollCtlDel = 2;
    public const int Eagain = 11;
    public const int Eintr = 4;
    public const int Econnrefused = 111;

    private const int AfInet = 2;
    private const int AfInet6 = 10;
    private const int SockDgram = 2;
    private const int SockNonblock = 0x800;
    private const int SockCloexec = 0x80000;
    private const int SolSocket = 1;
    private const int SoMark = 36;

    /// <summary>Bytes of one struct epoll_event: packed (12) on x86-64, naturally aligned (16) elsewhere.</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? 12 : 16;

    /// <summary>Offset of the data field in struct epoll_event.</summary>
    public static readonly int EpollDataOffset = EpollEventSize == 12 ? 4 : 8;

    /// <summary>True where these calls exist.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>Encodes <paramref name="endpoint"/> as a struct sockaddr_in or sockaddr_in6; returns its length.</summary>
    public static int WriteSockaddr(IPEndPoint endpoint, Span<byte> destination)
    {
        destination[..28].Clear();
        if (endpoint.AddressFamily == AddressFamily.InterNetwork)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(destination, AfInet);
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)endpoint.Port);
            endpoint.Address.TryWriteBytes(destination[4..], out _);
            return 16;
        }

        BinaryPrimitives.WriteUInt16LittleEndian(destination, AfInet6);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)endpoint.Port);
        endpoint.Address.TryWriteBytes(destination[8..], out _);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[24..], (uint)endpoint.Address.ScopeId);
        return 28;
    }

    /// <summary>
    /// A non-blocking UDP socket connected to <paramref name="sockaddr"/> (which picks a random local port), marked
    /// with <paramref name="mark"/> when non-zero; -1 with errno in <paramref name="error"/> on failure.
    /// </summary>
    public static unsafe int OpenConnected(ReadOnlySpan<byte> sockaddr, bool v6, uint mark, out int error)
    {
        int fd = socket(v6 ? AfInet6 : AfInet, SockDgram | SockNonblock | SockCloexec, 0);
        if (fd < 0)
        {
            error = Marshal.GetLastPInvokeError();
            return -1;
        }

        if (mark != 0 && setsockopt(fd, SolSocket, SoMark, &mark, sizeof(uint)) != 0)
        {
            error = Marshal.GetLastPInvokeError();
            close(fd);
            return -1;
        }

        fixed (byte* address = sockaddr)
        {
            if (connect(fd, address, sockaddr.Length) != 0)
            {
                error = Marshal.GetLastPInvokeError();
                close(fd);
                return -1;
            }
        }

        error = 0;
        return fd;
    }

    /// <summary>
    /// connect(2) of an open socket to <paramref name="sockaddr"/>. On a socket <see cref="Disconnect"/> left without
    /// a port, this binds a fresh random ephemeral port, as on a new socket; false with errno on failure.
    /// </summary>
    public static unsafe bool Connect(int fd, ReadOnlySpan<byte> sockaddr, out int error)
    {
        fixed (byte* address = sockaddr)
        {
            bool connected = connect(fd, address, sockaddr.Length) == 0;
            error = connected ? 0 : Marshal.GetLastPInvokeError();
            return connected;
        }
    }

    /// <summary>
    /// Dissolves a UDP socket's association (connect(2) with AF_UNSPEC): the kernel unhashes it and, because its port
    /// was picked automatically (never bound explicitly), gives the port back, so no datagram reaches the socket
    /// until the next <see cref="Connect"/> picks a new random port. Datagrams queued before stay queued.
    /// </summary>
    public static unsafe bool Disconnect(int fd)
    {
        // struct sockaddr with sa_family = AF_UNSPEC (0); the kernel reads only the family.
        byte* unspecified = stackalloc byte[16];
        new Span<byte>(unspecified, 16).Clear();
        return connect(fd, unspecified, 16) == 0;
    }

    /// <summary>send(2) of one datagram; false with errno on failure.</summary>
    public static unsafe bool Send(int fd, ReadOnlySpan<byte> message, out int error)
    {
        fixed (byte* p = message)
        {
            nint sent = send(fd, p, message.Length, 0);
            error = sent < 0 ? Marshal.GetLastPInvokeError() : 0;
            return sent == message.Length;
        }
    }

    /// <summary>recv(2) of one datagram; -1 with errno on failure.</summary>
    public static unsafe int Receive(int fd, Span<byte> buffer, out int error)
    {
        fixed (byte* p = buffer)
        {
            nint received = recv(fd, p, buffer.Length, 0);
            error = received < 0 ? Marshal.GetLastPInvokeError() : 0;
            return (int)received;
        }
    }

    /// <summary>Creates an epoll set.</summary>
    public static int EpollCreate() => epoll_create1(0x80000);

    /// <summary>Adds <paramref name="fd"/> for readability with <paramref name="data"/> handed back by epoll_wait.</summary>
    public static unsafe bool EpollAdd(int epoll, int fd, ulong data)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = EpollIn;
        *(ulong*)(ev + EpollDataOffset) = data;
        return epoll_ctl(epoll, EpollCtlAdd, fd, ev) == 0;
    }

    /// <summary>Waits for events; returns how many (0 on timeout or EINTR, -1 on other errors).</summary>
    public static unsafe int EpollWait(int epoll, byte* events, int maxEvents, int timeoutMs)
    {
        int n = epoll_wait(epoll, events, maxEvents, timeoutMs);
        return n < 0 && Marshal.GetLastPInvokeError() == Eintr ? 0 : n;
    }

    /// <summary>close(2).</summary>
    public static void Close(int fd) => close(fd);

    /// <summary>The SO_MARK of a socket (0 when none or not readable): copies what ProtectSocket set onto raw sockets.</summary>
    public static unsafe uint ReadMark(Socket socket)
    {
        uint mark = 0;
        int length = sizeof(uint);
        return getsockopt((int)socket.Handle, SolSocket, SoMark, &mark, &length) == 0 ? mark : 0;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int connect(int fd, byte* address, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint send(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint recv(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int setsockopt(int fd, int level, int name, void* value, int length);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int getsockopt(int fd, int level, int name, void* value, int* length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int epoll_ctl(int epoll, int op, int fd, byte* ev);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int epoll_wait(int epoll, byte* events, int maxEvents, int timeout);
}
