using System.Buffers;
using System.Buffers.Binary;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Sdk.Handlers;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Server;

/// <summary>
/// DNS over TCP per RFC 7766: 2-byte length framing, many queries per connection read while earlier ones
/// are still being resolved (pipelining), answers written as they complete (out of order, §6.2.1.1),
/// an idle timeout, and a cap on queries in flight per connection.
/// </summary>
internal sealed class DnsStreamHandler : IStreamHandler
{
    /// <summary>Queries resolved concurrently per connection; reading pauses beyond it (back-pressure).</summary>
    public const int MaxPipelined = 256;

    private readonly DnsResolver _resolver;
    private readonly ILogger _logger;
    private readonly DnsDotMetrics? _metrics;

    /// <summary>Creates the handler.</summary>
    public DnsStreamHandler(DnsResolver resolver, ILogger logger, DnsDotMetrics? metrics = null)
    {
        _resolver = resolver;
        _logger = logger;
        _metrics = metrics;
    }

    /// <inheritdoc/>
    public async Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken)
    {
        var session = new Session(connection.Stream, _resolver, connection.Client.Address);

        // clientIdleTimeoutMs as configured when the connection opened (a reload applies to new connections).
        TimeSpan idleTimeout = _resolver.Snapshot.ClientIdleTimeout;
        byte[] prefix = new byte[2];
        string reason = "closed by the client";
        bool failed = false;
        _metrics?.ClientConnectionsOpened.Add(1);
        try
        {
            while (true)
            {
                await session.Slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                int length;
                byte[] query;
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    // RFC 7766 §6.2.3: close connections that stay idle; queries in flight keep it open.
                    if (session.Outstanding == 0)
                    {
                        idle.CancelAfter(idleTimeout);
                    }

                    try
                    {
                        if (await connection.Stream.ReadAtLeastAsync(prefix, 2, throwOnEndOfStream: false, idle.Token).ConfigureAwait(false) < 2)
                        {
                            break;
                        }

                        length = BinaryPrimitives.ReadUInt16BigEndian(prefix);
                        query = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
                        if (await connection.Stream.ReadAtLeastAsync(query.AsMemory(0, length), length, throwOnEndOfStream: false, idle.Token).ConfigureAwait(false) < length)
                        {
                            ArrayPool<byte>.Shared.Return(query);
                            break;
                        }
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        reason = "idle timeout";
                        failed = true;
                        break;
                    }
                }

                session.Start(query, length, cancellationToken);
            }
        }
        catch (Exception e) when (e is IOException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            reason = e.Message;
            failed = true;
        }

        await session.DrainAsync().ConfigureAwait(false);
        if (failed)
        {
            _metrics?.ClientReadErrors.Add(1);
        }

        _metrics?.ClientConnectionsClosed.Add(1);
        DnsDotLog.ClientConnectionEnded(_logger, connection.Client.ToString(), reason);
    }

    /// <summary>One connection's state: the write lock, the in-flight slots and the answers being written.</summary>
    private sealed class Session(Stream stream, DnsResolver resolver, Gateway.Sdk.Networking.NetAddress client)
    {
        private readonly SemaphoreSlim _writeLock = new(1, 1);
        private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _outstanding = 1;

        public SemaphoreSlim Slots { get; } = new(MaxPipelined, MaxPipelined);

        public int Outstanding => Volatile.Read(ref _outstanding) - 1;

        public void Start(byte[] query, int length, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _outstanding);
            _ = RunAsync(query, length, cancellationToken);
        }

        public Task DrainAsync()
        {
            Release();
            return _drained.Task;
        }

        private async Task RunAsync(byte[] query, int length, CancellationToken cancellationToken)
        {
            byte[] answer = ArrayPool<byte>.Shared.Rent(2 + DnsResolver.MaxMessageSize);
            try
            {
                ResolveStep step = resolver.Begin(query.AsSpan(0, length), client, DnsTransport.Tcp, ushort.MaxValue, answer.AsSpan(2), out int answerLength, out PendingQuery pending);
                if (step == ResolveStep.Answered)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(answer, (ushort)answerLength);
                    await WriteAsync(answer.AsMemory(0, 2 + answerLength), ReadOnlyMemory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                }
                else if (step == ResolveStep.Upstream)
                {
                    UpstreamAnswer resolved = await resolver.ResolveUpstreamAsync(query.AsMemory(0, length), pending, cancellationToken).ConfigureAwait(false);
                    try
                    {
                        BinaryPrimitives.WriteUInt16BigEndian(answer, (ushort)resolved.Length);
                        await WriteAsync(answer.AsMemory(0, 2), resolved.Buffer.AsMemory(0, resolved.Length), cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        resolved.Release();
                    }
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away; its other queries end the same way.
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(answer);
                ArrayPool<byte>.Shared.Return(query);
                Slots.Release();
                Release();
            }
        }

        private async Task WriteAsync(ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second, CancellationToken cancellationToken)
        {
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await stream.WriteAsync(first, cancellationToken).ConfigureAwait(false);
                if (!second.IsEmpty)
                {
                    await stream.WriteAsync(second, cancellationToken).ConfigureAwait(false);
                }

                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _writeLock.Release();
            }
        }

        private void Release()
        {
            if (Interlocked.Decrement(ref _outstanding) == 0)
            {
                _drained.TrySetResult();
            }
        }
    }
}
