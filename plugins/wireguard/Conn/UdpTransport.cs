using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Gateway.Plugins.WireGuard.Device;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.WireGuard.Conn;

/// <summary>
/// The device's UDP sockets (one IPv4, one IPv6-only, on the same port, like wireguard-go's StdNetBind). Each
/// socket has a receive thread that takes up to <see cref="BatchSize"/> datagrams per wake-up, decrypts them in
/// place on that thread and flushes the TUN writer once per batch. On Linux receives use one recvmmsg per
/// wake-up (with UDP GRO, a coalesced buffer is split into its datagrams) and batches go out with one sendmmsg,
/// consecutive same-size datagrams to one peer as a single UDP GSO buffer; elsewhere the Socket API is used.
/// The steady state allocates nothing.
/// </summary>
internal sealed class UdpTransport : IDatagramSink, IDisposable
{
    /// <summary>Datagrams (or GRO buffers) handled per wake-up before the inbound side is flushed.</summary>
    public const int BatchSize = 64;

    private const int SocketBufferBytes = 4 * 1024 * 1024;

    private readonly WireGuardDevice _device;
    private readonly ILogger _logger;
    private readonly UdpSocket? _v4;
    private readonly UdpSocket? _v6;
    private readonly List<Thread> _threads = new();
    private volatile bool _stopping;

    /// <summary>Wraps already bound sockets (either may be null).</summary>
    public UdpTransport(WireGuardDevice device, Socket? v4, Socket? v6, ILogger logger)
    {
        _device = device;
        _logger = logger;
        _v4 = v4 is null ? null : new UdpSocket(v4, OperatingSystem.IsLinux());
        _v6 = v6 is null ? null : new UdpSocket(v6, OperatingSystem.IsLinux());
    }

    /// <summary>The bound port.</summary>
    public int Port => ((IPEndPoint?)(_v4 ?? _v6)?.Socket.LocalEndPoint)?.Port ?? 0;

    /// <summary>True when sends use UDP GSO (Linux 4.18+).</summary>
    public bool UsesGso => (_v4 ?? _v6)?.Gso ?? false;

    /// <summary>True when receives use UDP GRO (Linux 5.0+).</summary>
    public bool UsesGro => (_v4 ?? _v6)?.Gro ?? false;

    /// <summary>
    /// Creates an unbound UDP socket of <paramref name="family"/> with large buffers (call the host's
    /// ProtectSocket on it, then <see cref="Bind"/>).
    /// </summary>
    public static Socket CreateSocket(AddressFamily family)
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        if (family == AddressFamily.InterNetworkV6)
        {
            socket.DualMode = false;
        }

        socket.ReceiveBufferSize = SocketBufferBytes;
        socket.SendBufferSize = SocketBufferBytes;
        return socket;
    }

    /// <summary>Binds a socket to the wildcard address of its family on <paramref name="port"/> (0 = any).</summary>
    public static void Bind(Socket socket, int port) =>
        socket.Bind(new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, port));

    /// <summary>Starts the receive threads.</summary>
    public void Start()
    {
        foreach (UdpSocket? socket in new[] { _v4, _v6 })
        {
            if (socket is null)
            {
                continue;
            }

            var thread = new Thread(socket.Native is null ? ReceiveLoop : ReceiveLoopLinux)
            {
                IsBackground = true,
                Name = "wireguard udp " + socket.Socket.AddressFamily,
            };
            _threads.Add(thread);
            thread.Start(socket);
        }
    }

    /// <inheritdoc/>
    public bool Send(ReadOnlySpan<byte> datagram, SocketAddress destination)
    {
        Socket? socket = SocketFor(destination)?.Socket;
        if (socket is null)
        {
            return false;
        }

        try
        {
            socket.SendTo(datagram, SocketFlags.None, destination);
            return true;
        }
        catch (SocketException ex)
        {
            WireGuardLog.SendFailed(_logger, SocketAddressCodec.Read(destination).ToString(), ex.SocketErrorCode.ToString());
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <inheritdoc/>
    public long SendBatch(SendBatch batch)
    {
        long sent = 0;
        int start = 0;
        while (start < batch.Count)
        {
            // A run of datagrams of one address family goes to one socket.
            AddressFamily family = batch.Destination(start).Family;
            int end = start + 1;
            while (end < batch.Count && batch.Destination(end).Family == family)
            {
                end++;
            }

            UdpSocket? socket = SocketFor(batch.Destination(start));
            if (socket?.Native is { } native)
            {
                sent += SendRunLinux(socket, native, batch, start, end);
            }
            else
            {
                for (int i = start; i < end; i++)
                {
                    if (Send(batch.Datagram(i), batch.Destination(i)))
                    {
                        sent += batch.Length(i);
                    }
                }
            }

            start = end;
        }

        batch.Clear();
        return sent;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _stopping = true;
        foreach (UdpSocket? socket in new[] { _v4, _v6 })
        {
            socket?.WakeReceiver();
        }

        bool stopped = true;
        foreach (Thread thread in _threads)
        {
            // SO_RCVTIMEO (1 s) bounds the wait even if the shutdown(2) wake-up was missed.
            stopped &= thread.Join(TimeSpan.FromSeconds(5));
        }

        _v4?.Dispose(freeNative: stopped);
        _v6?.Dispose(freeNative: stopped);
    }

    private UdpSocket? SocketFor(SocketAddress destination) =>
        destination.Family == AddressFamily.InterNetworkV6 ? _v6 : _v4;

    private long SendRunLinux(UdpSocket socket, NativeUdp native, SendBatch batch, int start, int end)
    {
        bool added = false;
        try
        {
            socket.Socket.SafeHandle.DangerousAddRef(ref added);
            lock (native.SendLock)
            {
                return native.SendRun(batch, start, end, socket.Gso, out socket.GsoFailed);
            }
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
        finally
        {
            if (added)
            {
                socket.Socket.SafeHandle.DangerousRelease();
            }

            if (socket.GsoFailed)
            {
                // Some paths (a device without checksum offload) refuse GSO with EIO; wireguard-go turns it off too.
                socket.Gso = false;
                socket.GsoFailed = false;
                WireGuardLog.GsoDisabled(_logger, socket.Socket.AddressFamily.ToString());
            }

            if (native.LastError != 0)
            {
                int error = native.LastError;
                native.LastError = 0;
                WireGuardLog.SendFailed(_logger, SocketAddressCodec.Read(batch.Destination(start)).ToString(), "errno " + error);
            }
        }
    }

    private void ReceiveLoopLinux(object? state)
    {
        var socket = (UdpSocket)state!;
        NativeUdp native = socket.Native!;
        var source = new SocketAddress(socket.Socket.AddressFamily, UdpBatchNative.AddressSlot);
        bool added = false;
        try
        {
            socket.Socket.SafeHandle.DangerousAddRef(ref added);
            while (!_stopping)
            {
                int count = native.Receive(out int errno);
                if (count < 0)
                {
                    if (errno is UdpBatchNative.EAgain or UdpBatchNative.EIntr)
                    {
                        continue;
                    }

                    if (errno == UdpBatchNative.EBadF || _stopping)
                    {
                        return;
                    }

                    // ICMP errors for earlier sends (ECONNREFUSED, EHOSTUNREACH, ...) surface here; they say nothing
                    // about this socket.
                    if (errno is not (UdpBatchNative.EConnRefused or UdpBatchNative.EHostUnreach or UdpBatchNative.ENetUnreach or UdpBatchNative.EMsgSize))
                    {
                        WireGuardLog.ReceiveLoopFailed(_logger, socket.Socket.AddressFamily.ToString(), "errno " + errno);
                        Thread.Sleep(10);
                    }

                    continue;
                }

                if (count == 0 && _stopping)
                {
                    return;
                }

                HandleBatch(native, count, source, socket.LoopName);
            }
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added)
            {
                socket.Socket.SafeHandle.DangerousRelease();
            }
        }
    }

    private void HandleBatch(NativeUdp native, int count, SocketAddress source, string loopName)
    {
        for (int i = 0; i < count; i++)
        {
            Span<byte> data = native.Datagram(i, source, out int segmentSize, out bool truncated);
            if (truncated)
            {
                _device.CountDrop(DropReason.Malformed);
                continue;
            }

            if (segmentSize <= 0 || segmentSize >= data.Length)
            {
                ReceiveOne(data, source, loopName);
                continue;
            }

            // UDP GRO: equal-size datagrams of one sender, back to back (the last may be shorter).
            for (int offset = 0; offset < data.Length; offset += segmentSize)
            {
                ReceiveOne(data.Slice(offset, Math.Min(segmentSize, data.Length - offset)), source, loopName);
            }
        }

        try
        {
            _device.EndReceiveBatch();
        }
        catch (Exception ex) when (!_stopping)
        {
            _device.LoopFailures.Report(loopName, ex);
        }
    }

    private void ReceiveOne(Span<byte> datagram, SocketAddress source, string loopName)
    {
        try
        {
            _device.ReceiveDatagram(datagram, source);
        }
        catch (Exception ex) when (!_stopping)
        {
            // A bug met by one datagram must not end the thread (and with it the process): it is counted and logged
            // (rate-limited), that datagram is dropped, and the others of the batch go on.
            _device.LoopFailures.Report(loopName, ex);
        }
    }

    private void ReceiveLoop(object? state)
    {
        Socket socket = ((UdpSocket)state!).Socket;
        byte[] buffer = new byte[WireGuardDevice.MaxMessageSize];
        var source = new SocketAddress(socket.AddressFamily);
        while (!_stopping)
        {
            try
            {
                int length = socket.ReceiveFrom(buffer, SocketFlags.None, source);
                _device.ReceiveDatagram(buffer.AsSpan(0, length), source);
                _device.EndReceiveBatch();
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (_stopping || ex.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.MessageSize)
            {
                // ICMP errors for earlier sends surface on receive; they say nothing about this socket.
            }
            catch (SocketException ex) when (!_stopping)
            {
                WireGuardLog.ReceiveLoopFailed(_logger, socket.AddressFamily.ToString(), ex.Message);
                Thread.Sleep(10);
            }
            catch (Exception ex) when (!_stopping)
            {
                _device.LoopFailures.Report(((UdpSocket)state!).LoopName, ex);
            }
        }
    }

    /// <summary>One socket and, on Linux, its batched I/O state.</summary>
    private sealed class UdpSocket
    {
        public UdpSocket(Socket socket, bool linux)
        {
            Socket = socket;
            LoopName = "UDP receive loop (" + (socket.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4") + ")";
            if (!linux)
            {
                return;
            }

            try
            {
                // Blocking receives with a timeout: recvmmsg sleeps in the kernel, and a stop is noticed within a second
                // even if the shutdown(2) wake-up is missed.
                socket.Blocking = true;
                socket.ReceiveTimeout = 1000;
                nint fd = socket.SafeHandle.DangerousGetHandle();
                Gso = UdpBatchNative.SupportsGso(fd);
                Gro = UdpBatchNative.EnableGro(fd);
                Native = new NativeUdp(fd, BatchSize, Gro);
            }
            catch (DllNotFoundException)
            {
                Native = null;
            }
            catch (EntryPointNotFoundException)
            {
                Native = null;
            }
        }

        public Socket Socket { get; }

        /// <summary>The receive loop's name in logs.</summary>
        public string LoopName { get; }

        public NativeUdp? Native { get; }

        public bool Gso { get; set; }

        public bool Gro { get; }

        public bool GsoFailed;

        public void WakeReceiver()
        {
            if (Native is not null)
            {
                try
                {
                    UdpBatchNative.Shutdown(Socket.SafeHandle.DangerousGetHandle(), UdpBatchNative.ShutRdWr);
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }

        public void Dispose(bool freeNative)
        {
            Socket.Dispose();

            // A receive thread that did not stop may still be inside recvmmsg: its buffers stay allocated then.
            if (freeNative)
            {
                Native?.Dispose();
            }
            else
            {
                GC.SuppressFinalize(Native!);
            }
        }
    }
}
