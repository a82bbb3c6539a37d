using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.Dnstap.Protocol;
using Gateway.Plugins.DnsDot.Filtering;
using Gateway.Plugins.DnsDot.QueryLog;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Sdk.Networking;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Dnstap;

/// <summary>
/// <c>dnstap:</c> output: every client query as CLIENT_QUERY and CLIENT_RESPONSE, every upstream exchange as
/// FORWARDER_QUERY and FORWARDER_RESPONSE, encoded on the query log's writer thread and sent by a task of its
/// own over a Unix or TCP socket in Frame Streams. The collector may be slow, absent or restarted: frames wait
/// in a bounded queue (beyond it they are dropped and counted) while the sender reconnects with back-off
/// (0.5 s doubling to 30 s); the query path never sees any of it.
/// </summary>
internal sealed class DnstapWriter : IQueryEventSink, IDisposable
{
    /// <summary>Frames waiting for the collector.</summary>
    public const int QueueCapacity = 16_384;

    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(5);

    private readonly Channel<byte[]> _frames = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(QueueCapacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.DropWrite });
    private readonly string? _socketPath;
    private readonly IPEndPoint? _address;
    private readonly Action<Socket> _protectSocket;
    private readonly ILogger _logger;
    private readonly ByteString _identity;
    private readonly ByteString _version = ByteString.CopyFromUtf8("gateway dns-dot");
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _sender;
    private readonly Counter<long>? _sent;
    private readonly Counter<long>? _dropped;
    private long _sentCount;
    private long _droppedCount;

    public DnstapWriter(DnstapOptions options, string configDirectory, Action<Socket> protectSocket, Meter? meter, ILogger logger)
    {
        _socketPath = options.Socket is { } socket ? Path.GetFullPath(socket, configDirectory) : null;
        _address = options.Address is { } address ? NetEndpoint.Parse(address).ToIPEndPoint() : null;
        _protectSocket = protectSocket;
        _logger = logger;
        _identity = ByteString.CopyFromUtf8(options.Identity ?? Environment.MachineName);
        _sent = meter?.CreateCounter<long>("dns.dnstap.sent", "{message}", "dnstap messages written to the collector");
        _dropped = meter?.CreateCounter<long>("dns.dnstap.dropped", "{message}", "dnstap messages dropped (collector absent or too slow)");
        _sender = Task.Run(SendAsync);
    }

    /// <summary>Where messages go ("unix:/path" or "ip:port").</summary>
    public string Collector => _socketPath is not null ? "unix:" + _socketPath : _address!.ToString();

    /// <summary>Messages written to the collector so far.</summary>
    public long Sent => Interlocked.Read(ref _sentCount);

    /// <summary>Messages dropped so far.</summary>
    public long Dropped => Interlocked.Read(ref _droppedCount);

    /// <inheritdoc/>
    public void OnEvent(QueryEvent queryEvent)
    {
        if (queryEvent.IsUpstream)
        {
            IPEndPoint upstream = queryEvent.UpstreamEndpoint!;
            ByteString address = ByteString.CopyFrom(upstream.Address.GetAddressBytes());
            SocketFamily family = upstream.AddressFamily == AddressFamily.InterNetworkV6 ? SocketFamily.Inet6 : SocketFamily.Inet;
            Enqueue(new Message
            {
                Type = Message.Types.Type.ForwarderQuery,
                SocketFamily = family,
                SocketProtocol = SocketProtocol.Dot,
                ResponseAddress = address,
                ResponsePort = (uint)upstream.Port,
                QueryMessage = ByteString.CopyFrom(queryEvent.Query),
            }.WithQueryTime(queryEvent.SentAt));
            Enqueue(new Message
            {
                Type = Message.Types.Type.ForwarderResponse,
                SocketFamily = family,
                SocketProtocol = SocketProtocol.Dot,
                ResponseAddress = address,
                ResponsePort = (uint)upstream.Port,
                ResponseMessage = ByteString.CopyFrom(queryEvent.Answer),
            }.WithQueryTime(queryEvent.SentAt).WithResponseTime(queryEvent.ReceivedAt));
            return;
        }

        QueryRecord record = queryEvent.Record;
        Span<byte> client = stackalloc byte[16];
        record.Client.WriteTo(client);
        ByteString clientBytes = ByteString.CopyFrom(client[..record.Client.ByteLength]);
        SocketFamily clientFamily = record.Client.IsV6 ? SocketFamily.Inet6 : SocketFamily.Inet;
        SocketProtocol protocol = record.Transport == DnsTransport.Udp ? SocketProtocol.Udp : SocketProtocol.Tcp;
        Enqueue(new Message
        {
            Type = Message.Types.Type.ClientQuery,
            SocketFamily = clientFamily,
            SocketProtocol = protocol,
            QueryAddress = clientBytes,
            QueryMessage = ByteString.CopyFrom(queryEvent.Query),
        }.WithQueryTime(record.Started));
        Enqueue(new Message
        {
            Type = Message.Types.Type.ClientResponse,
            SocketFamily = clientFamily,
            SocketProtocol = protocol,
            QueryAddress = clientBytes,
            ResponseMessage = ByteString.CopyFrom(queryEvent.Answer),
        }.WithQueryTime(record.Started).WithResponseTime(record.Finished));
    }

    /// <inheritdoc/>
    public void OnBatchEnd()
    {
    }

    public void Dispose()
    {
        _frames.Writer.TryComplete();
        try
        {
            _sender.Wait(TimeSpan.FromSeconds(3));
        }
        catch (AggregateException)
        {
            // The sender reports its own failures.
        }

        _stopping.Cancel();
    }

    private void Enqueue(Message message)
    {
        var tap = new Protocol.Dnstap { Identity = _identity, Version = _version, Type = Protocol.Dnstap.Types.Type.Message, Message = message };
        int size = tap.CalculateSize();
        byte[] frame = new byte[4 + size];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)size);
        tap.WriteTo(frame.AsSpan(4));
        if (!_frames.Writer.TryWrite(frame))
        {
            Interlocked.Increment(ref _droppedCount);
            _dropped?.Add(1);
        }
    }

    private async Task SendAsync()
    {
        TimeSpan retry = FirstRetry;
        ChannelReader<byte[]> frames = _frames.Reader;
        while (!_stopping.IsCancellationRequested)
        {
            Socket? socket = null;
            try
            {
                socket = await ConnectAsync().ConfigureAwait(false);
                await using var stream = new NetworkStream(socket, ownsSocket: true);
                await HandshakeAsync(stream).ConfigureAwait(false);
                FilteringLog.DnstapConnected(_logger, Collector);
                retry = FirstRetry;
                while (await frames.WaitToReadAsync(_stopping.Token).ConfigureAwait(false))
                {
                    int batch = 0;
                    while (batch < 256 && frames.TryRead(out byte[]? frame))
                    {
                        await stream.WriteAsync(frame, _stopping.Token).ConfigureAwait(false);
                        batch++;
                    }

                    await stream.FlushAsync(_stopping.Token).ConfigureAwait(false);
                    Interlocked.Add(ref _sentCount, batch);
                    _sent?.Add(batch);
                }

                // Completed (the plugin stops or dnstap was reconfigured): end the stream properly.
                await stream.WriteAsync(FrameStreams.Control(FrameStreams.ControlStop, null), _stopping.Token).ConfigureAwait(false);
                using var finish = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                try
                {
                    await FrameStreams.ReadControlAsync(stream, finish.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or IOException or InvalidDataException)
                {
                    // The collector is going away too; nothing more to say to it.
                }

                return;
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is SocketException or IOException or InvalidDataException or OperationCanceledException)
            {
                socket?.Dispose();
                FilteringLog.DnstapFailed(_logger, Collector, e.Message, (long)retry.TotalMilliseconds);
                try
                {
                    await Task.Delay(retry, _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                if (frames.Completion.IsCompleted)
                {
                    return;
                }

                retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, MaxRetry.Ticks));
            }
        }
    }

    private async Task<Socket> ConnectAsync()
    {
        if (_socketPath is not null)
        {
            var unix = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await unix.ConnectAsync(new UnixDomainSocketEndPoint(_socketPath), _stopping.Token).ConfigureAwait(false);
                return unix;
            }
            catch
            {
                unix.Dispose();
                throw;
            }
        }

        var tcp = new Socket(_address!.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            _protectSocket(tcp);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(HandshakeTimeout);
            await tcp.ConnectAsync(_address, timeout.Token).ConfigureAwait(false);
            return tcp;
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    private async Task HandshakeAsync(Stream stream)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        timeout.CancelAfter(HandshakeTimeout);
        await stream.WriteAsync(FrameStreams.Control(FrameStreams.ControlReady, FrameStreams.DnstapContentType), timeout.Token).ConfigureAwait(false);
        uint reply = await FrameStreams.ReadControlAsync(stream, timeout.Token).ConfigureAwait(false);
        if (reply != FrameStreams.ControlAccept)
        {
            throw new InvalidDataException($"the collector answered control frame {reply} instead of ACCEPT");
        }

        await stream.WriteAsync(FrameStreams.Control(FrameStreams.ControlStart, FrameStreams.DnstapContentType), timeout.Token).ConfigureAwait(false);
        await stream.FlushAsync(timeout.Token).ConfigureAwait(false);
    }
}

/// <summary>Time fields of dnstap messages from Stopwatch timestamps.</summary>
internal static class DnstapTimes
{
    public static Message WithQueryTime(this Message message, long timestamp)
    {
        (ulong seconds, uint nanoseconds) = Split(timestamp);
        message.QueryTimeSec = seconds;
        message.QueryTimeNsec = nanoseconds;
        return message;
    }

    public static Message WithResponseTime(this Message message, long timestamp)
    {
        (ulong seconds, uint nanoseconds) = Split(timestamp);
        message.ResponseTimeSec = seconds;
        message.ResponseTimeNsec = nanoseconds;
        return message;
    }

    private static (ulong Seconds, uint Nanoseconds) Split(long timestamp)
    {
        long ticks = EventClock.ToUtc(timestamp).Ticks - DateTime.UnixEpoch.Ticks;
        return ((ulong)(ticks / TimeSpan.TicksPerSecond), (uint)(ticks % TimeSpan.TicksPerSecond * 100));
    }
}
