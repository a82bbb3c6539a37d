using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Tun;

/// <summary>
/// A Linux TUN device (/dev/net/tun, IFF_TUN|IFF_NO_PI): a nonblocking fd polled on a dedicated thread
/// together with an eventfd for shutdown; each wake-up reads until EAGAIN (up to a batch) and hands the
/// batch to the receiver, so a burst costs one poll(2) and one dispatch.
/// </summary>
internal sealed unsafe class LinuxTunDevice : ITunDevice
{
    private const int BatchSize = 64;

    private readonly ILogger _logger;
    private readonly int _stopFd;
    private int _fd;
    private Thread? _thread;
    private volatile bool _stopping;

    private LinuxTunDevice(int fd, int stopFd, string name, int mtu, ILogger logger)
    {
        _fd = fd;
        _stopFd = stopFd;
        Name = name;
        Mtu = mtu;
        _logger = logger;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Mtu { get; }

    /// <summary>The interface index (after creation).</summary>
    public int Index { get; private set; }

    /// <summary>Creates (or attaches to) TUN interface <paramref name="name"/> in the calling thread's network namespace.</summary>
    /// <exception cref="IOException">The device could not be opened or created (not root / no CAP_NET_ADMIN, bad name).</exception>
    public static LinuxTunDevice Create(string name, int mtu, ILogger logger)
    {
        int fd = LinuxNative.Open("/dev/net/tun", LinuxNative.ORdWr | LinuxNative.ONonBlock | LinuxNative.OCloExec);
        if (fd < 0)
        {
            throw new IOException($"cannot open /dev/net/tun (errno {Marshal.GetLastPInvokeError()}): the TUN needs root or CAP_NET_ADMIN and the tun module");
        }

        // struct ifreq: char ifr_name[16]; short ifr_flags; padded to 40 bytes.
        byte* ifreq = stackalloc byte[40];
        new Span<byte>(ifreq, 40).Clear();
        int nameLength = Encoding.ASCII.GetBytes(name, new Span<byte>(ifreq, 15));
        ifreq[nameLength] = 0;
        *(short*)(ifreq + 16) = LinuxNative.IffTun | LinuxNative.IffNoPi;
        if (LinuxNative.Ioctl(fd, LinuxNative.TunSetIff, ifreq) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            LinuxNative.Close(fd);
            throw new IOException($"TUNSETIFF {name} failed (errno {errno}): check the name (at most 15 characters) and that no other program holds it");
        }

        int stopFd = LinuxNative.EventFd(0, LinuxNative.EfdNonBlock | LinuxNative.EfdCloExec);
        var device = new LinuxTunDevice(fd, stopFd, name, mtu, logger)
        {
            Index = (int)LinuxNative.IfNameToIndex(name),
        };
        return device;
    }

    /// <inheritdoc/>
    public void Start(IPacketReceiver receiver)
    {
        _thread = new Thread(() => ReadLoop(receiver))
        {
            IsBackground = true,
            Name = "tun " + Name,
        };
        _thread.Start();
    }

    /// <inheritdoc/>
    public bool Write(ReadOnlySpan<byte> packet)
    {
        int fd = Volatile.Read(ref _fd);
        if (fd < 0)
        {
            return false;
        }

        fixed (byte* p = packet)
        {
            // A full TUN queue (EAGAIN) drops the packet, as a NIC queue would; TCP recovers.
            return LinuxNative.Write(fd, p, (nuint)packet.Length) == packet.Length;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        ulong one = 1;
        LinuxNative.Write(_stopFd, &one, 8);
        if (_thread is not null && _thread != Thread.CurrentThread)
        {
            _thread.Join(TimeSpan.FromSeconds(5));
        }

        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            LinuxNative.Close(fd);
        }

        LinuxNative.Close(_stopFd);
    }

    private void ReadLoop(IPacketReceiver receiver)
    {
        var batch = new PacketBatch(BatchSize, 65536);
        LinuxNative.PollFd* fds = stackalloc LinuxNative.PollFd[2];
        while (!_stopping)
        {
            fds[0] = new LinuxNative.PollFd { Fd = _fd, Events = LinuxNative.PollIn };
            fds[1] = new LinuxNative.PollFd { Fd = _stopFd, Events = LinuxNative.PollIn };
            int ready = LinuxNative.Poll(fds, 2, -1);
            if (ready < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == LinuxNative.EIntr)
                {
                    continue;
                }

                TunLog.ReadFailed(_logger, Name, errno);
                return;
            }

            if (_stopping || fds[1].Revents != 0)
            {
                return;
            }

            batch.Clear();
            while (!batch.IsFull)
            {
                byte[] buffer = batch.Buffer(batch.Count);
                nint n;
                fixed (byte* p = buffer)
                {
                    n = LinuxNative.Read(_fd, p, (nuint)buffer.Length);
                }

                if (n <= 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (n < 0 && errno != LinuxNative.EAgain && errno != LinuxNative.EIntr)
                    {
                        TunLog.ReadFailed(_logger, Name, errno);
                    }

                    break;
                }

                batch.Commit((int)n);
            }

            if (batch.Count > 0)
            {
                try
                {
                    receiver.OnPackets(batch);
                }
                catch (Exception ex)
                {
                    // The dispatcher never throws on bad packets; anything else is a bug: log it, keep reading.
                    TunLog.DispatchFailed(_logger, Name, ex);
                }
            }
        }
    }
}
