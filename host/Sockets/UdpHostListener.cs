using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gateway.Host.Networking;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Hosting;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Sockets;

/// <summary>
/// A plugin's datagram handler on a UDP host socket: one receive loop reusing one buffer and one
/// <see cref="SocketAddress"/> (no allocation per datagram), replies sent with SendTo from the same socket.
/// </summary>
/// <remarks>
/// The loop runs on a dedicated thread doing blocking receives, as dnsdist and unbound do: a queued
/// datagram is picked up without a hand-off between thread-pool threads, and a handler that answers at
/// once (a cache hit) replies from that same thread. With the gateway pinned to one core, the async
/// socket path cost 2–3 context switches per query. On 64-bit Linux one recvmmsg(2) takes every queued
/// datagram (up to <see cref="BatchSize"/>) per wake-up, the handlers run inside a <see cref="DatagramBatch"/>,
/// and the replies they give on this thread (or on any thread inside a batch) leave in one sendmmsg(2):
/// per-datagram system calls were most of a cache hit's cost.
/// </remarks>
internal sealed unsafe class UdpHostListener : IDatagramResponder, IHostListener, IDisposable
{
    /// <summary>Datagrams taken per recvmmsg(2).</summary>
    public const int BatchSize = 32;

    // Every receive slot takes the largest datagram, so nothing is ever truncated; the buffer is uninitialized,
    // so only the bytes datagrams actually fill become resident.
    private const int SlotSize = 65536;

    /// <summary>The largest UDP payload over IPv4: 65535 − 20 (IP header) − 8 (UDP header).</summary>
    public const int MaxPayloadV4 = 65507;

    /// <summary>The largest UDP payload over IPv6 without jumbograms: 65535 − 8 (UDP header).</summary>
    public const int MaxPayloadV6 = 65527;

    [ThreadStatic]
    private static SocketAddress? t_replyV4;

    [ThreadStatic]
    private static SocketAddress? t_replyV6;

    private readonly Socket _socket;
    private readonly PluginHandlerGuard _guard;
    private ListenerOwner[] _owners;
    private ListenerOwner? _current;
    private int _closed;
    private readonly ILogger _logger;
    private readonly Counter<long> _datagrams;
    private readonly KeyValuePair<string, object?> _pluginTag;
    private readonly CancellationTokenSource _stop = new();
    private readonly Counter<long>? _sendFailures;
    private readonly int _maxReply;
    private readonly bool _batched;
    private Thread? _loop;

    /// <param name="batched">Use recvmmsg/sendmmsg where supported (false: one system call per datagram).</param>
    public UdpHostListener(NetEndpoint endpoint, PluginHandlerGuard guard, IDatagramHandler handler, ILogger logger, Counter<long> datagrams, Counter<long>? sendFailures = null, bool batched = true)
    {
        _guard = guard;
        _sendFailures = sendFailures;
        _batched = batched && UdpBatchNative.IsSupported;
        First = new ListenerOwner(guard, handler);
        _owners = [First];
        _current = First;
        _logger = logger;
        _datagrams = datagrams;
        _pluginTag = new KeyValuePair<string, object?>("plugin", guard.PluginId);
        _socket = new Socket(endpoint.Address.Family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endpoint.Address.IsV6)
            {
                // IPV6_V6ONLY: [::] serves IPv6 only, so 0.0.0.0 on the same port can be bound separately.
                _socket.DualMode = false;
            }

            UdpReceiveBuffer.Apply(_socket);
            _socket.Bind(endpoint.ToIPEndPoint());
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        Local = NetEndpoint.FromIPEndPoint((System.Net.IPEndPoint)_socket.LocalEndPoint!);
        _maxReply = endpoint.Address.IsV6 ? MaxPayloadV6 : MaxPayloadV4;
    }

    /// <summary>The bound endpoint (with the real port when 0 was asked for).</summary>
    public NetEndpoint Local { get; }

    /// <summary>
    /// The owner the listener was created for, until it is released (then null: a released owner must not stay
    /// referenced, or its plugin's load context could never be collected).
    /// </summary>
    public ListenerOwner? First { get; private set; }

    /// <inheritdoc/>
    public bool Closed => Volatile.Read(ref _closed) != 0;

    /// <inheritdoc/>
    public bool OwnedOnlyByDraining(string pluginId)
    {
        ListenerOwner[] owners = Volatile.Read(ref _owners);
        foreach (ListenerOwner owner in owners)
        {
            if (owner.Guard.PluginId != pluginId || !owner.Guard.Draining)
            {
                return false;
            }
        }

        return owners.Length > 0;
    }

    /// <inheritdoc/>
    public void Add(ListenerOwner owner)
    {
        lock (_stop)
        {
            _owners = [.. _owners, owner];
            UpdateCurrent();
        }
    }

    /// <inheritdoc/>
    public void StopAccepting(ListenerOwner owner)
    {
        owner.Accepting = false;
        lock (_stop)
        {
            UpdateCurrent();
        }

        if (Volatile.Read(ref _current) is null)
        {
            // Nobody takes new datagrams: the receive loop ends (within its 500 ms receive timeout); the socket stays
            // open so that replies to datagrams already handed out still leave from the right address.
            _stop.Cancel();
        }
    }

    /// <inheritdoc/>
    public void Release(ListenerOwner owner)
    {
        bool last;
        lock (_stop)
        {
            _owners = Array.FindAll(_owners, o => o != owner);
            if (First == owner)
            {
                First = null;
            }

            UpdateCurrent();
            last = _owners.Length == 0;
        }

        owner.Stopping.Cancel();
        if (last)
        {
            Dispose();
        }
    }

    private void UpdateCurrent()
    {
        ListenerOwner? current = null;
        for (int i = _owners.Length - 1; i >= 0 && current is null; i--)
        {
            current = _owners[i].Accepting ? _owners[i] : null;
        }

        Volatile.Write(ref _current, current);
    }

    public void Start()
    {
        // A finite receive timeout lets the loop notice Dispose even where closing the socket does not
        // interrupt a blocked receive.
        _socket.ReceiveTimeout = 500;
        _loop = new Thread(_batched ? ReceiveBatches : ReceiveLoop) { IsBackground = true, Name = $"udp {Local}" };
        _loop.Start();
    }

    /// <inheritdoc/>
    public bool TrySend(in DatagramRequest request, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > _maxReply || request.Client.Address.IsV6 != Local.Address.IsV6)
        {
            return false;
        }

        if (_batched && DatagramBatch.IsOpen && UdpReplyBatch.Current.TryQueue(this, request.Client, payload))
        {
            return true;
        }

        SocketAddress address = request.Client.Address.IsV6
            ? t_replyV6 ??= new SocketAddress(AddressFamily.InterNetworkV6)
            : t_replyV4 ??= new SocketAddress(AddressFamily.InterNetwork);
        SocketAddressCodec.Write(address, request.Client);
        try
        {
            return _socket.SendTo(payload, SocketFlags.None, address) == payload.Length;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        _socket.Dispose();
        if (_loop is not null && _loop != Thread.CurrentThread)
        {
            _loop.Join(TimeSpan.FromSeconds(5));
        }

        SocketsLog.Closed(_logger, _guard.PluginId, "udp", new NetEndpointText(Local));
    }

    private void ReceiveLoop()
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(65536, pinned: true);
        var from = new SocketAddress(_socket.AddressFamily);
        CancellationToken token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            int received;
            try
            {
                received = _socket.ReceiveFrom(buffer, SocketFlags.None, from);
            }
            catch (Exception ex) when (ex is ObjectDisposedException || token.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock or SocketError.Interrupted)
            {
                continue;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused or SocketError.MessageSize)
            {
                // An ICMP error for an earlier reply, or a datagram larger than the buffer: not fatal for the socket.
                continue;
            }
            catch (SocketException ex)
            {
                SocketsLog.ReceiveFailed(_logger, _guard.PluginId, "udp", new NetEndpointText(Local), ex.SocketErrorCode.ToString());
                token.WaitHandle.WaitOne(100);
                continue;
            }

            if (token.IsCancellationRequested)
            {
                // Closing the socket wakes a blocked receive with 0 bytes and no sender: not a datagram.
                break;
            }

            _datagrams.Add(1, _pluginTag);
            if (Volatile.Read(ref _current) is not { } owner)
            {
                continue;
            }

            var request = new DatagramRequest(this, SocketAddressCodec.Read(from), Local, PacketOrigin.HostSocket, _maxReply);
            owner.Guard.InvokeDatagram(owner.DatagramHandler!, request, buffer.AsSpan(0, received));
        }
    }

    /// <summary>Sends replies queued by <see cref="UdpReplyBatch"/> with sendmmsg(2); a reply that fails is counted and skipped.</summary>
    internal void SendQueued(UdpBatchNative.MMsgHdr* messages, int count)
    {
        bool added = false;
        try
        {
            _socket.SafeHandle.DangerousAddRef(ref added);
            nint fd = _socket.SafeHandle.DangerousGetHandle();
            int done = 0;
            while (done < count)
            {
                int sent = UdpBatchNative.SendMmsg(fd, messages + done, (uint)(count - done), 0);
                if (sent > 0)
                {
                    done += sent;
                    continue;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (sent < 0 && errno == UdpBatchNative.EIntr)
                {
                    continue;
                }

                // The first remaining reply was refused (or the socket is gone): drop it, go on with the rest.
                _sendFailures?.Add(1, _pluginTag);
                if (errno is UdpBatchNative.EBadF or UdpBatchNative.ENotSock)
                {
                    _sendFailures?.Add(count - done - 1, _pluginTag);
                    return;
                }

                done++;
            }
        }
        catch (ObjectDisposedException)
        {
            _sendFailures?.Add(count, _pluginTag);
        }
        finally
        {
            if (added)
            {
                _socket.SafeHandle.DangerousRelease();
            }
        }
    }

    // recvmmsg(2) loop: every datagram queued at a wake-up in one call, handled inside one DatagramBatch.
    private void ReceiveBatches()
    {
        byte[] buffers = GC.AllocateUninitializedArray<byte>(BatchSize * SlotSize, pinned: true);
        byte[] addresses = GC.AllocateArray<byte>(BatchSize * UdpBatchNative.AddressSlot, pinned: true);
        var iov = GC.AllocateArray<UdpBatchNative.IoVec>(BatchSize, pinned: true);
        var headers = GC.AllocateArray<UdpBatchNative.MMsgHdr>(BatchSize, pinned: true);
        byte* bufferBase = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffers));
        byte* addressBase = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(addresses));
        UdpBatchNative.IoVec* iovBase = (UdpBatchNative.IoVec*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(iov));
        UdpBatchNative.MMsgHdr* headerBase = (UdpBatchNative.MMsgHdr*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(headers));
        for (int i = 0; i < BatchSize; i++)
        {
            iovBase[i].Base = bufferBase + ((long)i * SlotSize);
            headerBase[i].Header.Name = addressBase + (i * UdpBatchNative.AddressSlot);
            headerBase[i].Header.Iov = iovBase + i;
            headerBase[i].Header.IovLength = 1;
        }

        CancellationToken token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            for (int i = 0; i < BatchSize; i++)
            {
                iovBase[i].Length = SlotSize;
                headerBase[i].Header.NameLength = UdpBatchNative.AddressSlot;
                headerBase[i].Header.Flags = 0;
                headerBase[i].Length = 0;
            }

            int received = ReceiveMany(headerBase, token);
            if (received < 0 || token.IsCancellationRequested)
            {
                // Closing the socket (shutdown) wakes recvmmsg with one empty message that has no sender address
                // (read as 0.0.0.0:0): that is the unbind, not a datagram for the handler.
                break;
            }

            if (received == 0)
            {
                continue;
            }

            _datagrams.Add(received, _pluginTag);
            if (Volatile.Read(ref _current) is not { } owner)
            {
                continue;
            }

            try
            {
                using DatagramBatch.Scope batch = DatagramBatch.Open();
                for (int i = 0; i < received; i++)
                {
                    if (headerBase[i].Header.NameLength == 0)
                    {
                        // No sender address: not a datagram from the network (see above).
                        continue;
                    }

                    NetEndpoint client = SocketAddressCodec.ReadNative(addresses.AsSpan(i * UdpBatchNative.AddressSlot, UdpBatchNative.AddressSlot));
                    var request = new DatagramRequest(this, client, Local, PacketOrigin.HostSocket, _maxReply);
                    owner.Guard.InvokeDatagram(owner.DatagramHandler!, request, buffers.AsSpan(i * SlotSize, (int)headerBase[i].Length));
                }
            }
            catch (Exception ex)
            {
                // A batch participant failed while flushing: the same as a handler failure.
                owner.Guard.Report(ex);
            }
        }

        // The kernel writes through raw pointers into these pinned arrays: they must outlive the loop, or the GC
        // frees them under recvmmsg (EFAULT) once nothing else references them.
        GC.KeepAlive(buffers);
        GC.KeepAlive(addresses);
        GC.KeepAlive(iov);
        GC.KeepAlive(headers);
    }

    // One recvmmsg: the number of datagrams, 0 to go round again (timeout, transient error), -1 to stop.
    private int ReceiveMany(UdpBatchNative.MMsgHdr* headers, CancellationToken token)
    {
        bool added = false;
        try
        {
            _socket.SafeHandle.DangerousAddRef(ref added);
            int received = UdpBatchNative.RecvMmsg(_socket.SafeHandle.DangerousGetHandle(), headers, BatchSize, UdpBatchNative.MsgWaitForOne, null);
            if (received >= 0)
            {
                return received;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (token.IsCancellationRequested || errno is UdpBatchNative.EBadF or UdpBatchNative.ENotSock)
            {
                return -1;
            }

            // EAGAIN: the receive timeout (to notice Dispose); ECONNREFUSED: an ICMP error for an earlier reply.
            if (errno is not (UdpBatchNative.EAgain or UdpBatchNative.EIntr or UdpBatchNative.EConnRefused or UdpBatchNative.EMsgSize))
            {
                SocketsLog.ReceiveFailed(_logger, _guard.PluginId, "udp", new NetEndpointText(Local), $"errno {errno}");
                token.WaitHandle.WaitOne(100);
            }

            return 0;
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
        finally
        {
            if (added)
            {
                _socket.SafeHandle.DangerousRelease();
            }
        }
    }
}
