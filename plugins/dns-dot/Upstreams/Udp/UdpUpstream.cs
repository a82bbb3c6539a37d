using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Handlers;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Upstreams.Udp;

/// <summary>
/// A udp:// upstream (plain DNS, RFC 1035 §4.2.1), hardened against off-path spoofing as RFC 5452 asks: every query
/// goes out from a source port of its own, on a socket connected to the upstream (so the kernel picks a random
/// source port and drops datagrams from any other address), with a fresh id from a cryptographic generator; an
/// answer counts only when its id, question name and type match (anything else is counted and the query keeps
/// waiting). A truncated answer (TC) is asked again over TCP on a pool of plain connections to the same upstream.
/// One thread waits on an epoll set of all the upstream's sockets and answers in place from its receive buffer.
/// </summary>
/// <remarks>
/// <para>
/// A port per query, not a socket per query: when a query ends, its socket is disconnected (connect(2) with
/// AF_UNSPEC), which gives its port back to the kernel, and kept open in the epoll set; the next query connects it
/// again, and the kernel picks a new random port exactly as for a new socket. That is unbound's per-query port
/// randomisation at the cost of two connect calls, where a new socket per query also paid socket(2), close(2) and
/// two epoll_ctl(2) — 37 % of the gateway's CPU when forwarding (BENCHMARKS.md, "dns-dot transports"). A port is
/// still open only while its query is in flight (what the SAD DNS side channel has to find), unlike dnsdist's and
/// CoreDNS's sockets, which keep one port for many queries.
/// </para>
/// <para>
/// The forwarding path allocates nothing per query: raw descriptors (no Socket object per query), a slot table
/// reused by index, ids from a thread's buffer of random bytes.
/// </para>
/// </remarks>
internal sealed class UdpUpstream : DnsUpstream
{
    private const int MaxEvents = 64;
    private const int WaitMs = 200;

    // Disconnected sockets kept for the next queries: the burst's high-water mark, up to this many.
    private const int MaxIdleSockets = 512;

    [ThreadStatic]
    private static byte[]? t_random;

    [ThreadStatic]
    private static int t_randomUsed;

    private readonly Lock _sync = new();
    private readonly Slot[] _slots;
    private readonly int[] _free;
    private readonly UpstreamConnectionPool _tcp;
    private readonly uint _mark;
    private readonly int _epoll;
    private readonly Thread _reader;
    private readonly byte[] _sockaddr = new byte[28];
    private int _freeCount;
    private int _idleSockets;
    private int _sockaddrLength;
    private IPEndPoint? _sockaddrFor;
    private bool _closed;

    /// <summary>Creates the upstream and its reader thread.</summary>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public UdpUpstream(string name, UpstreamEndpoint endpoint, UpstreamSettings settings, DnsDotMetrics metrics, ILogger logger)
        : base(name, endpoint, settings, metrics, logger)
    {
        if (!LinuxUdp.IsSupported)
        {
            throw new PlatformNotSupportedException("udp:// upstreams need Linux");
        }

        int capacity = Math.Max(64, settings.MaxConnections * settings.MaxInFlightPerConnection * 8);
        _slots = new Slot[capacity];
        _free = new int[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _free[i] = capacity - 1 - i;
            _slots[i].Fd = -1;
        }

        _freeCount = capacity;

        // What ProtectSocket does (SO_MARK, so replies never loop into our TUN) is copied onto the raw sockets.
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            settings.ProtectSocket(probe);
            _mark = LinuxUdp.ReadMark(probe);
        }

        // RFC 7766 §6.2.1: the TCP retry of a truncated answer; no connection is kept warm for it.
        _tcp = new UpstreamConnectionPool(this, endpoint, tls: null, settings with { MinConnections = 0 });
        _epoll = LinuxUdp.EpollCreate();
        if (_epoll < 0)
        {
            throw new IOException($"epoll_create1 failed: errno {Marshal.GetLastPInvokeError()}");
        }

        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "dns-dot udp upstream" };
        _reader.Start();
    }

    /// <inheritdoc/>
    public override string Protocol => "udp";


    /// <summary>Queries that may be in flight at once (one socket each).</summary>
    public int Capacity => _slots.Length;

    /// <inheritdoc/>
    public override int OpenConnections
    {
        get
        {
            lock (_sync)
            {
                return _slots.Length - _freeCount + _tcp.Count;
            }
        }
    }

    /// <inheritdoc/>
    public override bool IsClosed
    {
        get
        {
            lock (_sync)
            {
                return _closed;
            }
        }
    }

    /// <inheritdoc/>
    public override void Maintain(CancellationToken cancellationToken)
    {
        Endpoint.Refresh(this, Logger, cancellationToken);
        _tcp.Maintain(cancellationToken);
    }

    /// <inheritdoc/>
    public override void Sweep(long now)
    {
        List<UpstreamQuery>? expired = null;
        lock (_sync)
        {
            for (int i = 0; i < _slots.Length; i++)
            {
                ref Slot slot = ref _slots[i];
                if (slot.Query is { } query && query.AttemptDeadline <= now)
                {
                    (expired ??= new()).Add(query);
                    Release(i);
                }
            }
        }

        if (expired is not null)
        {
            foreach (UpstreamQuery query in expired)
            {
                OnFailure(query, "no answer in time");
            }
        }

        _tcp.Sweep(now);
    }

    /// <inheritdoc/>
    public override void Close(string reason = "stopping")
    {
        List<UpstreamQuery> lost = new();
        lock (_sync)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            for (int i = 0; i < _slots.Length; i++)
            {
                ref Slot slot = ref _slots[i];
                if (slot.Query is { } query)
                {
                    lost.Add(query);
                    Release(i);
                }
                else if (slot.Fd >= 0 && !slot.Reading)
                {
                    LinuxUdp.Close(slot.Fd);
                    slot.Fd = -1;
                }
            }
        }

        foreach (UpstreamQuery query in lost)
        {
            OnFailure(query, reason);
        }

        _tcp.CloseAll(reason);
    }

    /// <inheritdoc/>
    protected override void Dispatch(UpstreamQuery query, bool freshConnection)
    {
        IPEndPoint? endpoint = Endpoint.Current;
        if (endpoint is null)
        {
            _ = ResolveThenSendAsync(query);
            return;
        }

        ushort id = NextId();
        BinaryPrimitives.WriteUInt16BigEndian(query.Frame.AsSpan(2), id);
        int fd;
        int error;
        int index;
        uint generation;
        lock (_sync)
        {
            if (_closed)
            {
                fd = -2;
                index = -1;
                generation = 0;
                error = 0;
            }
            else if (_freeCount == 0)
            {
                fd = -3;
                index = -1;
                generation = 0;
                error = 0;
            }
            else
            {
                if (!ReferenceEquals(endpoint, _sockaddrFor))
                {
                    _sockaddrLength = LinuxUdp.WriteSockaddr(endpoint, _sockaddr);
                    _sockaddrFor = endpoint;
                }

                index = _free[--_freeCount];
                fd = Connect(index, endpoint.AddressFamily == AddressFamily.InterNetworkV6, out error);
                generation = ++_slots[index].Generation;
                if (fd < 0)
                {
                    _free[_freeCount++] = index;
                    index = -1;
                }
                else
                {
                    _slots[index].Id = id;
                    _slots[index].Query = query;
                }
            }
        }

        if (index < 0)
        {
            OnFailure(query, fd switch
            {
                -2 => "upstream closed (stopping or removed by a configuration reload)",
                -3 => $"in-flight cap reached ({_slots.Length} UDP queries)",
                _ => $"cannot open or connect a UDP socket: errno {error}",
            });
            return;
        }

        if (!LinuxUdp.Send(fd, query.Message, out error))
        {
            if (Claim(index, generation) is { } failed)
            {
                Metrics.UpstreamWriteErrors.Add(1, Tag);
                OnFailure(failed, $"send failed: errno {error}");
            }
        }
    }

    /// <inheritdoc/>
    protected override void AfterFailure() => _tcp.OnSlotFreed();

    // Under the lock: the slot's socket connected to the upstream on a fresh random port — its kept socket when it
    // has one of the right family, else a new one added to the epoll set. The descriptor, or -1 with errno.
    private int Connect(int index, bool v6, out int error)
    {
        ref Slot slot = ref _slots[index];
        ReadOnlySpan<byte> sockaddr = _sockaddr.AsSpan(0, _sockaddrLength);
        if (slot.Fd >= 0)
        {
            _idleSockets--;
            if (slot.V6 == v6 && LinuxUdp.Connect(slot.Fd, sockaddr, out _))
            {
                error = 0;
                return slot.Fd;
            }

            // The upstream's address changed family (a re-resolved host name), or the socket is unusable: a new one.
            LinuxUdp.Close(slot.Fd);
            slot.Fd = -1;
        }

        int fd = LinuxUdp.OpenConnected(sockaddr, v6, _mark, out error);
        if (fd < 0)
        {
            return -1;
        }

        // Under the lock: the reader closes the epoll set once the upstream is closed. The slot's index is the event's
        // data for the socket's whole life; which query it serves is the slot's business.
        if (!LinuxUdp.EpollAdd(_epoll, fd, (uint)index))
        {
            error = Marshal.GetLastPInvokeError();
            LinuxUdp.Close(fd);
            return -1;
        }

        slot.Fd = fd;
        slot.V6 = v6;
        return fd;
    }

    // Before the first bootstrap answer for a host name: resolve, then send (or fail, and let the resolver retry).
    private async Task ResolveThenSendAsync(UpstreamQuery query)
    {
        try
        {
            using var timeout = new CancellationTokenSource(Settings.ConnectTimeout);
            await Endpoint.EnsureResolvedAsync(this, Logger, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        if (Endpoint.Current is null)
        {
            OnConnectFailure($"{Endpoint.Host} has no address yet (bootstrap resolution failed)");
            OnFailure(query, "no address");
            return;
        }

        Dispatch(query, freshConnection: false);
    }

    private unsafe void ReadLoop()
    {
        byte* events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * LinuxUdp.EpollEventSize));
        byte[] buffer = GC.AllocateUninitializedArray<byte>(ushort.MaxValue + 1);
        try
        {
            while (!IsClosed)
            {
                int count = LinuxUdp.EpollWait(_epoll, events, MaxEvents, WaitMs);
                if (count <= 0)
                {
                    continue;
                }

                // Every answer of this wake-up in one batch: client replies leave in one sendmmsg where the host can.
                using DatagramBatch.Scope batch = DatagramBatch.Open();
                for (int e = 0; e < count; e++)
                {
                    ulong data = *(ulong*)(events + (e * LinuxUdp.EpollEventSize) + LinuxUdp.EpollDataOffset);
                    Receive((int)(uint)data, buffer);
                }

                _tcp.OnSlotFreed();
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A reader that dies would leave every later query to time out: say so; the sweep fails what is in flight.
            DnsDotLog.ConnectFailure(Logger, Name, $"UDP reader stopped: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            NativeMemory.Free(events);
            LinuxUdp.Close(_epoll);
        }
    }

    private void Receive(int index, byte[] buffer)
    {
        int fd;
        ushort id;
        UpstreamQuery query;
        lock (_sync)
        {
            ref Slot slot = ref _slots[index];
            if (slot.Query is null)
            {
                // A kept socket between queries with something queued from before its disconnect (a late duplicate,
                // a spoof, an ICMP error): epoll reports it until read. Under the lock, so no query takes it meanwhile.
                if (slot.Fd >= 0)
                {
                    DrainIdle(slot.Fd, buffer);
                }

                return;
            }

            fd = slot.Fd;
            id = slot.Id;
            query = slot.Query;

            // While set, a timeout or a stop that ends the query leaves the socket to this read (see Release).
            slot.Reading = true;
        }

        int received;
        string? failure = null;
        DnsResponseInfo info = default;
        while (true)
        {
            received = LinuxUdp.Receive(fd, buffer, out int error);
            if (received < 0)
            {
                // ICMP port unreachable: nobody listens there; fail now rather than at the timeout. Else EAGAIN.
                failure = error == LinuxUdp.Econnrefused ? "port unreachable (ICMP)" : null;
                break;
            }

            if (received < DnsConstants.HeaderSize || BinaryPrimitives.ReadUInt16BigEndian(buffer) != id ||
                (buffer[2] & (DnsConstants.FlagQr >> 8)) == 0 ||
                !DnsMessageReader.TryScanResponse(buffer.AsSpan(0, received), query.Name, query.Info.QType, Span<int>.Empty, out info))
            {
                // Not the answer (RFC 5452 §9.1: id, question and source must all match): keep waiting for it.
                CountUnmatched(received >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(buffer) : (ushort)0);
                continue;
            }

            break;
        }

        UpstreamQuery? claimed = null;
        lock (_sync)
        {
            ref Slot slot = ref _slots[index];
            slot.Reading = false;
            // While Reading was set the slot could not be given to another query: a query still here is this read's.
            if ((received >= 0 || failure is not null) && slot.Query is not null)
            {
                claimed = slot.Query;
                Release(index);
            }
            else if (slot.ReleasePending)
            {
                Recycle(index);
            }
        }

        if (claimed is null)
        {
            return;
        }

        if (failure is not null)
        {
            OnConnectFailure(failure);
            OnFailure(claimed, failure);
            return;
        }

        Span<byte> message = buffer.AsSpan(0, received);
        if (info.Truncated)
        {
            // RFC 7766 §6.2.1: ask again over TCP (within what is left of the query's time).
            if (Logger.IsEnabled(LogLevel.Debug))
            {
                DnsDotLog.TruncatedRetry(Logger, Name, System.Text.Encoding.ASCII.GetString(claimed.Name));
            }

            claimed.AttemptDeadline = Math.Min(Stopwatch.GetTimestamp() + ReadTimeoutTicks, claimed.Deadline);
            _tcp.Dispatch(claimed, fresh: false);
            return;
        }

        OnAnswer(claimed, message, info);
    }

    // Under the lock: reads and drops what is queued on a socket no query is waiting on.
    private void DrainIdle(int fd, byte[] buffer)
    {
        while (true)
        {
            int received = LinuxUdp.Receive(fd, buffer, out int error);
            if (received >= 0)
            {
                CountUnmatched(received >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(buffer) : (ushort)0);
            }
            else if (error != LinuxUdp.Econnrefused)
            {
                return;
            }
        }
    }

    // Takes the query out of its slot (once: the reader, the sweep and a failed send may race) and frees the slot.
    private UpstreamQuery? Claim(int index, uint generation)
    {
        UpstreamQuery? query;
        lock (_sync)
        {
            ref Slot slot = ref _slots[index];
            if (slot.Generation != generation || slot.Query is null)
            {
                return null;
            }

            query = slot.Query;
            Release(index);
        }

        return query;
    }

    // Under the lock: the slot's query is over. Its socket goes back for the next query, unless the reader is reading
    // from it right now: then the reader recycles it when it is done, so no new query's answer is read as this one's.
    private void Release(int index)
    {
        ref Slot slot = ref _slots[index];
        slot.Query = null;
        if (slot.Reading)
        {
            slot.ReleasePending = true;
            return;
        }

        Recycle(index);
    }

    // Under the lock: disconnects the slot's socket, which frees its port (kept for the next query), or closes it
    // (stopping, enough kept, or the disconnect failed), and frees the slot.
    private void Recycle(int index)
    {
        ref Slot slot = ref _slots[index];
        slot.ReleasePending = false;
        if (slot.Fd >= 0)
        {
            if (!_closed && _idleSockets < MaxIdleSockets && LinuxUdp.Disconnect(slot.Fd))
            {
                _idleSockets++;
            }
            else
            {
                LinuxUdp.Close(slot.Fd);
                slot.Fd = -1;
            }
        }

        _free[_freeCount++] = index;
    }

    // RFC 5452 §9.2: ids that an off-path attacker cannot predict.
    private static ushort NextId()
    {
        byte[] random = t_random ??= new byte[512];
        if (t_randomUsed == 0 || t_randomUsed >= random.Length)
        {
            RandomNumberGenerator.Fill(random);
            t_randomUsed = 0;
        }

        ushort id = BinaryPrimitives.ReadUInt16LittleEndian(random.AsSpan(t_randomUsed));
        t_randomUsed += 2;
        return id;
    }

    private struct Slot
    {
        public int Fd;
        public bool V6;
        public uint Generation;
        public ushort Id;
        public UpstreamQuery? Query;

        // The reader is between its two locks on this slot (reading the socket).
        public bool Reading;

        // The query ended while the reader was reading: the reader recycles the slot.
        public bool ReleasePending;
    }
}
