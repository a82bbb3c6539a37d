using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Tun;

/// <summary>
/// A Linux TUN device (/dev/net/tun, IFF_TUN|IFF_NO_PI, and IFF_VNET_HDR with TSO/USO offloads where the kernel
/// has them): a nonblocking fd polled on a dedicated thread together with an eventfd for shutdown; each wake-up
/// reads until EAGAIN (up to a batch) and hands the batch to the receiver, so a burst costs one poll(2) and one
/// dispatch. With offloads, a read may return a 64 KiB TCP/UDP super-packet, split once into MTU-sized segments
/// (<see cref="GsoSplitter"/>), and queued writes are coalesced into super-packets (<see cref="WriteCoalescer"/>):
/// one system call moves up to 64 KiB either way.
/// </summary>
internal sealed unsafe class LinuxTunDevice : ITunDevice, ITunFrameWriter
{
    // Slots and bytes of a read batch: room for two split 64 KiB super-packets at the usual MTUs.
    private const int BatchSlots = 128;
    private const int BatchBytes = 384 * 1024;

    // A read buffer for one frame: the virtio header and the largest packet (or super-packet).
    private const int FrameBytes = VirtioNetHeader.Size + 65536;

    private readonly ILogger _logger;
    private readonly int _stopFd;
    private readonly WriteCoalescer? _coalescer;
    private readonly Lock _writeLock = new();
    private int _fd;
    private Thread? _thread;
    private volatile bool _stopping;
    private long _malformedFrames;
    private long _loopFailures;
    private long _suppressedFailures;
    private long _nextFailureLog;

    private LinuxTunDevice(int fd, int stopFd, string name, int mtu, ILogger logger, bool vnetHeader, uint offloads)
    {
        _fd = fd;
        _stopFd = stopFd;
        Name = name;
        Mtu = mtu;
        _logger = logger;
        VnetHeader = vnetHeader;
        Offloads = offloads;
        if (vnetHeader)
        {
            // UDP super-packets only where the kernel took USO: an older one refuses a UDP_L4 frame outright.
            const uint uso = LinuxNative.TunFUso4 | LinuxNative.TunFUso6;
            _coalescer = new WriteCoalescer(this, udp: (offloads & uso) == uso);
        }
    }

    /// <summary>True when frames carry a virtio_net_hdr (IFF_VNET_HDR): GSO writes and offloaded reads.</summary>
    public bool VnetHeader { get; }

    /// <summary>The TUN_F_* offloads the kernel accepted (0 = none: every read is one plain packet).</summary>
    public uint Offloads { get; }

    /// <summary>Frames read whose virtio header did not describe their packet (dropped).</summary>
    public long MalformedFrames => Interlocked.Read(ref _malformedFrames);

    /// <summary>Batches lost because the read loop or the dispatcher threw (a bug); the loop went on reading.</summary>
    public long LoopFailures => Interlocked.Read(ref _loopFailures);

    /// <summary>TCP segments and UDP datagrams merged into super-packets on write since start.</summary>
    public long CoalescedSegments
    {
        get
        {
            lock (_writeLock)
            {
                return _coalescer?.Coalesced ?? 0;
            }
        }
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Mtu { get; }

    /// <summary>The interface index (after creation).</summary>
    public int Index { get; private set; }

    /// <summary>Creates (or attaches to) TUN interface <paramref name="name"/> in the calling thread's network namespace.</summary>
    /// <param name="name">The interface name.</param>
    /// <param name="mtu">The MTU.</param>
    /// <param name="logger">For the offload line.</param>
    /// <param name="offloads">What to ask for; anything but <see cref="TunOffloads.Full"/> runs a kernel's step-down path (for tests).</param>
    /// <exception cref="IOException">The device could not be opened or created (not root / no CAP_NET_ADMIN, bad name).</exception>
    public static LinuxTunDevice Create(string name, int mtu, ILogger logger, TunOffloads offloads = TunOffloads.Full)
    {
        int fd = LinuxNative.Open("/dev/net/tun", LinuxNative.ORdWr | LinuxNative.ONonBlock | LinuxNative.OCloExec);
        if (fd < 0)
        {
            throw new IOException($"cannot open /dev/net/tun (errno {Marshal.GetLastPInvokeError()}): the TUN needs root or CAP_NET_ADMIN and the tun module");
        }

        // IFF_VNET_HDR first; a kernel without it (EINVAL) gets a plain TUN.
        bool vnetHeader = offloads != TunOffloads.None;
        int errno = vnetHeader ? SetIff(fd, name, (short)(LinuxNative.IffTun | LinuxNative.IffNoPi | LinuxNative.IffVnetHdr)) : LinuxNative.EInval;
        if (errno == LinuxNative.EInval)
        {
            vnetHeader = false;
            errno = SetIff(fd, name, (short)(LinuxNative.IffTun | LinuxNative.IffNoPi));
        }

        if (errno != 0)
        {
            LinuxNative.Close(fd);
            throw new IOException($"TUNSETIFF {name} failed (errno {errno}): check the name (at most 15 characters) and that no other program holds it");
        }

        uint granted = vnetHeader && offloads == TunOffloads.Full ? SetOffloads(fd) : 0;
        int stopFd = LinuxNative.EventFd(0, LinuxNative.EfdNonBlock | LinuxNative.EfdCloExec);
        var device = new LinuxTunDevice(fd, stopFd, name, mtu, logger, vnetHeader, granted)
        {
            Index = (int)LinuxNative.IfNameToIndex(name),
        };
        TunLog.Offloads(logger, name, vnetHeader, DescribeOffloads(granted));
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
            if (!VnetHeader)
            {
                return LinuxNative.Write(fd, p, (nuint)packet.Length) == packet.Length;
            }

            // A plain packet behind an all-zero virtio header, gathered in one writev(2).
            ulong* header = stackalloc ulong[2];
            header[0] = 0;
            header[1] = 0;
            LinuxNative.IoVec* iov = stackalloc LinuxNative.IoVec[2];
            iov[0] = new LinuxNative.IoVec { Base = header, Length = VirtioNetHeader.Size };
            iov[1] = new LinuxNative.IoVec { Base = p, Length = (nuint)packet.Length };
            return LinuxNative.Writev(fd, iov, 2) == VirtioNetHeader.Size + packet.Length;
        }
    }

    /// <inheritdoc/>
    public bool Enqueue(ReadOnlySpan<byte> packet)
    {
        if (_coalescer is null)
        {
            return Write(packet);
        }

        lock (_writeLock)
        {
            return _coalescer.Enqueue(packet);
        }
    }

    /// <inheritdoc/>
    public void FlushWrites()
    {
        if (_coalescer is null)
        {
            return;
        }

        lock (_writeLock)
        {
            _coalescer.Flush();
        }
    }

    /// <inheritdoc/>
    bool ITunFrameWriter.WriteFrame(ReadOnlySpan<byte> frame)
    {
        int fd = Volatile.Read(ref _fd);
        if (fd < 0)
        {
            return false;
        }

        fixed (byte* p = frame)
        {
            return LinuxNative.Write(fd, p, (nuint)frame.Length) == frame.Length;
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

    private static int SetIff(int fd, string name, short flags)
    {
        // struct ifreq: char ifr_name[16]; short ifr_flags; padded to 40 bytes.
        byte* ifreq = stackalloc byte[40];
        new Span<byte>(ifreq, 40).Clear();
        int nameLength = Encoding.ASCII.GetBytes(name, new Span<byte>(ifreq, 15));
        ifreq[nameLength] = 0;
        *(short*)(ifreq + 16) = flags;
        return LinuxNative.Ioctl(fd, LinuxNative.TunSetIff, ifreq) < 0 ? Marshal.GetLastPInvokeError() : 0;
    }

    /// <summary>
    /// Asks for checksum offload, TSO and (Linux 6.2+) USO, stepping down to what the kernel accepts. Whatever the
    /// outcome, the virtio header stays on: writes may still carry GSO super-packets.
    /// </summary>
    private static uint SetOffloads(int fd)
    {
        uint tso = LinuxNative.TunFCsum | LinuxNative.TunFTso4 | LinuxNative.TunFTso6;
        foreach (uint offloads in (ReadOnlySpan<uint>)[tso | LinuxNative.TunFUso4 | LinuxNative.TunFUso6, tso, LinuxNative.TunFCsum])
        {
            if (LinuxNative.Ioctl(fd, LinuxNative.TunSetOffload, (void*)offloads) == 0)
            {
                return offloads;
            }
        }

        return 0;
    }

    private static string DescribeOffloads(uint offloads)
    {
        if (offloads == 0)
        {
            return "none";
        }

        var text = new StringBuilder();
        Append(LinuxNative.TunFCsum, "csum");
        Append(LinuxNative.TunFTso4, "tso4");
        Append(LinuxNative.TunFTso6, "tso6");
        Append(LinuxNative.TunFUso4, "uso4");
        Append(LinuxNative.TunFUso6, "uso6");
        return text.ToString();

        void Append(uint flag, string name)
        {
            if ((offloads & flag) != 0)
            {
                text.Append(text.Length == 0 ? "" : ",").Append(name);
            }
        }
    }

    private void ReadLoop(IPacketReceiver receiver)
    {
        var batch = new PacketBatch(BatchSlots, BatchBytes);
        byte[] frame = GC.AllocateUninitializedArray<byte>(FrameBytes, pinned: true);
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
            try
            {
                while (!batch.IsFull)
                {
                    nint n;
                    fixed (byte* p = frame)
                    {
                        n = LinuxNative.Read(_fd, p, (nuint)frame.Length);
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

                    Append(frame.AsSpan(0, (int)n), batch, receiver);
                }

                Dispatch(batch, receiver);
            }
            catch (Exception ex)
            {
                // A bug met while splitting or batching frames: this thread is the only reader of the TUN, and an
                // exception escaping it would end the process. The batch is lost; reading goes on.
                ReportLoopFailure(ex);
            }
        }
    }

    /// <summary>Adds the packet(s) of one frame to the batch, dispatching the batch first when it is out of room.</summary>
    private void Append(Span<byte> frame, PacketBatch batch, IPacketReceiver receiver)
    {
        if (!VnetHeader)
        {
            if (!batch.TryAdd(frame))
            {
                Dispatch(batch, receiver);
                batch.TryAdd(frame);
            }

            return;
        }

        if (frame.Length <= VirtioNetHeader.Size)
        {
            Interlocked.Increment(ref _malformedFrames);
            return;
        }

        VirtioNetHeader header = VirtioNetHeader.Read(frame);
        Span<byte> packet = frame[VirtioNetHeader.Size..];
        SplitResult result = GsoSplitter.Append(header, packet, batch);
        if (result == SplitResult.NoRoom && batch.Count > 0)
        {
            Dispatch(batch, receiver);
            result = GsoSplitter.Append(header, packet, batch);
        }

        if (result != SplitResult.Added)
        {
            // Malformed, or a super-packet of more segments than a whole batch holds (a tiny gso_size).
            Interlocked.Increment(ref _malformedFrames);
        }
    }

    private void Dispatch(PacketBatch batch, IPacketReceiver receiver)
    {
        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            receiver.OnPackets(batch);
        }
        catch (Exception ex)
        {
            // The dispatcher never throws on bad packets; anything else is a bug: count and log it, keep reading.
            ReportLoopFailure(ex);
        }

        batch.Clear();
    }

    /// <summary>Counts a lost batch and logs it at most once per 10 s, with how many were not logged since.</summary>
    private void ReportLoopFailure(Exception exception)
    {
        Interlocked.Increment(ref _loopFailures);
        long now = Environment.TickCount64;
        if (now < _nextFailureLog)
        {
            _suppressedFailures++;
            return;
        }

        _nextFailureLog = now + 10_000;
        TunLog.LoopFailed(_logger, Name, _suppressedFailures, exception);
        _suppressedFailures = 0;
    }
}
