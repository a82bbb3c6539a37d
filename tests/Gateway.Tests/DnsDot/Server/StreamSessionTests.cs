using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Gateway.Plugins.DnsDot;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Plugins.DnsDot.Server;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.DnsDot.Server;

public sealed class StreamSessionTests : IDisposable
{
    private readonly Meter _meter = new("stream-session-test");

    public void Dispose() => _meter.Dispose();

    private sealed class AnswerAll : IRuleEvaluator
    {
        public Verdict Evaluate(DnsQuery query) => Verdict.Answer("10.0.0.5", 60);
    }

    /// <summary>A client connection: queries the test feeds in, writes that complete only when the test lets them.</summary>
    private sealed class ClientStream : Stream
    {
        private readonly Channel<byte[]> _incoming = Channel.CreateUnbounded<byte[]>();
        private byte[]? _pending;
        private int _offset;

        public bool Reading { get; set; } = true;

        public MemoryStream Written { get; } = new();

        public int Aborts { get; set; }

        public void Send(byte[] frame) => _incoming.Writer.TryWrite(frame);

        public void EndOfInput() => _incoming.Writer.TryComplete();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_pending is null || _offset == _pending.Length)
            {
                if (!await _incoming.Reader.WaitToReadAsync(cancellationToken))
                {
                    return 0;
                }

                _pending = await _incoming.Reader.ReadAsync(cancellationToken);
                _offset = 0;
            }

            int n = Math.Min(buffer.Length, _pending.Length - _offset);
            _pending.AsMemory(_offset, n).CopyTo(buffer);
            _offset += n;
            return n;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!Reading)
            {
                // A client that never reads: the kernel buffer is full, the write never completes.
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            lock (Written)
            {
                Written.Write(buffer.Span);
            }
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private (StreamSession Session, ClientGate Gate) Create(ClientStream stream, DnsDotOptions options, TimeSpan? readLimit = null)
    {
        var metrics = new DnsDotMetrics(_meter);
        var group = new UpstreamGroup("default", new LeastOutstandingPolicy(), Array.Empty<DnsUpstream>());
        var resolver = new DnsResolver(options, group, new Dictionary<string, UpstreamGroup>(), null, metrics, NullLogger.Instance) { Rules = new AnswerAll() };
        var gate = new ClientGate(options, [], metrics.Serving, NullLogger.Instance);
        var session = new StreamSession(stream, resolver, gate, NetAddress.Parse("127.0.0.1"), DnsTransport.Tcp, () => stream.Aborts++, metrics, CancellationToken.None, readLimit);
        return (session, gate);
    }

    private static byte[] Frames(int count, string name = "pipelined.test")
    {
        var frames = new List<byte>();
        for (int i = 0; i < count; i++)
        {
            byte[] query = DnsTestMessages.Query(name, 1, id: (ushort)i);
            frames.Add((byte)(query.Length >> 8));
            frames.Add((byte)query.Length);
            frames.AddRange(query);
        }

        return frames.ToArray();
    }

    [Fact]
    public async Task RunAsync_PipelinedQueriesInOneSegment_EveryOneAnsweredWithItsId()
    {
        var stream = new ClientStream();
        (StreamSession session, _) = Create(stream, new DnsDotOptions());
        stream.Send(Frames(300));
        stream.EndOfInput();
        Assert.Equal("closed by the client", await session.RunAsync().WaitAsync(TimeSpan.FromSeconds(10)));

        byte[] written = stream.Written.ToArray();
        var ids = new HashSet<int>();
        for (int at = 0; at < written.Length;)
        {
            int length = BinaryPrimitives.ReadUInt16BigEndian(written.AsSpan(at));
            ids.Add(BinaryPrimitives.ReadUInt16BigEndian(written.AsSpan(at + 2)));
            Assert.Equal(0, written[at + 2 + 3] & 0x0F);
            at += 2 + length;
        }

        Assert.Equal(300, ids.Count);
    }

    [Fact]
    public async Task RunAsync_ClientNeverReads_ClosedWhenAnswersPassTheCap()
    {
        var stream = new ClientStream { Reading = false };
        (StreamSession session, _) = Create(stream, new DnsDotOptions { MaxBufferedAnswerBytes = 65_537, ClientWriteTimeoutMs = 60_000 });
        using var aborted = new MeterListenerCount(_meter, "dns.client.connections.aborted");

        // ~60 bytes an answer: 2,000 answers are ~120 KB, past the 64 KiB cap, long before the write timeout.
        Task<string> run = session.RunAsync();
        stream.Send(Frames(2000));
        string reason = await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(1, stream.Aborts);
        Assert.Equal("closed: the client does not read its answers", reason);
        Assert.Equal(0, session.Buffered);
        Assert.Equal(1, aborted.Total);
        Assert.Equal("buffer_cap", aborted.LastTag("reason"));
    }

    [Fact]
    public async Task RunAsync_WriteNeverCompletes_ClosedAfterWriteTimeout()
    {
        var stream = new ClientStream { Reading = false };
        (StreamSession session, _) = Create(stream, new DnsDotOptions { ClientWriteTimeoutMs = 300 });
        using var aborted = new MeterListenerCount(_meter, "dns.client.connections.aborted");
        Task<string> run = session.RunAsync();
        stream.Send(Frames(1));
        string reason = await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(1, stream.Aborts);
        Assert.Equal("closed: the client does not read its answers", reason);
        Assert.Equal("write_timeout", aborted.LastTag("reason"));
    }

    [Fact]
    public async Task RunAsync_HostIdleLimitBelowClientIdleTimeout_ClosedAtTheHostLimit()
    {
        var stream = new ClientStream();
        (StreamSession session, _) = Create(stream, new DnsDotOptions { ClientIdleTimeoutMs = 600_000 }, readLimit: TimeSpan.FromMilliseconds(300));
        // One answered query first: the limit applies to every read, not just the first.
        stream.Send(Frames(1));
        Assert.Equal("idle timeout", await session.RunAsync().WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.NotEqual(0, stream.Written.Length);
    }

    [Fact]
    public async Task RunAsync_InfiniteHostLimit_ClientIdleTimeoutApplies()
    {
        var stream = new ClientStream();
        (StreamSession session, _) = Create(stream, new DnsDotOptions { ClientIdleTimeoutMs = 300 }, readLimit: Timeout.InfiniteTimeSpan);
        Assert.Equal("idle timeout", await session.RunAsync().WaitAsync(TimeSpan.FromSeconds(60)));
    }
}
