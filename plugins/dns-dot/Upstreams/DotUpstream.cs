using System.Diagnostics;
using System.Net;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>One DoT upstream: its verified TLS identity, connection pool, health and latency.</summary>
internal sealed class DotUpstream : IBalancedUpstream
{
    private static readonly long LogInterval = Stopwatch.Frequency * 30;
    private readonly ILogger _logger;
    private int _outstanding;
    private double _latencyMs;
    private long _connections;
    private long _answered;
    private long _lastProblemLog = long.MinValue / 2;
    private string? _lastProblem;

    /// <summary>Creates the upstream; nothing connects until <see cref="Maintain"/> or a query.</summary>
    public DotUpstream(string name, IPEndPoint endpoint, DotTlsVerifier verifier, UpstreamSettings settings, DnsDotMetrics metrics, ILogger logger)
    {
        Name = name;
        Endpoint = endpoint;
        Verifier = verifier;
        Settings = settings;
        Metrics = metrics;
        _logger = logger;
        Tag = new KeyValuePair<string, object?>("upstream", name);
        Health = new UpstreamHealth(settings.BaseExclusion, settings.MaxExclusion);
        Pool = new DotConnectionPool(this);
    }

    /// <summary>"ip:port" as configured.</summary>
    public string Name { get; }

    /// <summary>Where to connect.</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>TLS identity checks and client options.</summary>
    public DotTlsVerifier Verifier { get; }

    /// <summary>Shared timeouts and limits.</summary>
    public UpstreamSettings Settings { get; }

    /// <summary>The plugin's instruments.</summary>
    public DnsDotMetrics Metrics { get; }

    /// <summary>The metric tag naming this upstream.</summary>
    public KeyValuePair<string, object?> Tag { get; }

    /// <summary>The connections.</summary>
    public DotConnectionPool Pool { get; }

    /// <inheritdoc/>
    public UpstreamHealth Health { get; }

    /// <inheritdoc/>
    public int Outstanding => Volatile.Read(ref _outstanding);

    /// <inheritdoc/>
    public double LatencyMs => Volatile.Read(ref _latencyMs);

    /// <inheritdoc/>
    public long HistoricalConnections => Interlocked.Read(ref _connections);

    /// <summary>Answers received from this upstream since start.</summary>
    public long Answered => Interlocked.Read(ref _answered);

    /// <summary>
    /// Sends one framed query and waits at most the read timeout for its answer. Failures are reported to
    /// <see cref="Health"/> and surface as <see cref="UpstreamException"/> (or cancellation).
    /// </summary>
    public async Task<UpstreamAnswer> QueryAsync(Memory<byte> frame, ReadOnlyMemory<byte> questionName, ushort qtype, bool freshConnection, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _outstanding);
        Metrics.InFlight.Add(1);
        long started = Stopwatch.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Settings.ReadTimeout);
        try
        {
            DotConnection connection = await Pool.AcquireAsync(freshConnection, timeout.Token).ConfigureAwait(false);
            UpstreamAnswer answer = await connection.QueryAsync(frame, questionName, qtype, timeout.Token).ConfigureAwait(false);
            double elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            Metrics.UpstreamLatency.Record(elapsed, Tag);
            double previous = Volatile.Read(ref _latencyMs);
            Volatile.Write(ref _latencyMs, previous == 0 ? elapsed : (previous * 0.8) + (elapsed * 0.2));
            if (Health.IsDegraded)
            {
                DnsDotLog.UpstreamRecovered(_logger, Name);
            }

            Health.ReportSuccess();
            Interlocked.Increment(ref _answered);
            return answer;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Metrics.UpstreamErrors.Add(1, Tag);
            Health.ReportFailure(Stopwatch.GetTimestamp());
            throw new UpstreamException($"no answer within {Settings.ReadTimeout.TotalMilliseconds:0} ms");
        }
        catch (UpstreamException)
        {
            Metrics.UpstreamErrors.Add(1, Tag);
            Health.ReportFailure(Stopwatch.GetTimestamp());
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref _outstanding);
            Metrics.InFlight.Add(-1);
        }
    }

    /// <summary>Background upkeep of the pool.</summary>
    public void Maintain(CancellationToken cancellationToken) => Pool.Maintain(cancellationToken);

    /// <summary>A connection completed its handshake.</summary>
    public void OnConnected()
    {
        long count = Interlocked.Increment(ref _connections);
        Metrics.ConnectionOpens.Add(1, Tag);
        if (count > 1)
        {
            // The shared SslClientAuthenticationOptions let the BCL resume the TLS session of earlier
            // connections to the same host; SslStream does not expose whether it did, so this counts attempts.
            Metrics.ConnectionResumptions.Add(1, Tag);
        }

        _lastProblem = null;

        // A verified handshake is proof of life: end any exclusion (the background refill is the probe).
        if (Health.IsDegraded)
        {
            DnsDotLog.UpstreamRecovered(_logger, Name);
        }

        Health.ReportSuccess();
    }

    /// <summary>The certificate was refused: one clear line, at most every 30 s per reason.</summary>
    public void OnTlsFailure(string reason)
    {
        Health.ReportFailure(Stopwatch.GetTimestamp());
        if (ShouldLog(reason))
        {
            DnsDotLog.TlsFailure(_logger, Name, reason);
        }
    }

    /// <summary>TCP connect failed or timed out.</summary>
    public void OnConnectFailure(string reason)
    {
        Health.ReportFailure(Stopwatch.GetTimestamp());
        if (ShouldLog(reason))
        {
            DnsDotLog.ConnectFailure(_logger, Name, reason);
        }
    }

    /// <summary>A connection ended.</summary>
    public void OnConnectionClosed(string reason) => DnsDotLog.ConnectionClosed(_logger, Name, reason);

    /// <summary>A message arrived that matches no query in flight.</summary>
    public void CountUnmatched(ushort id)
    {
        Metrics.UnmatchedResponses.Add(1, Tag);
        DnsDotLog.UnmatchedResponse(_logger, Name, id);
    }

    private bool ShouldLog(string reason)
    {
        long now = Stopwatch.GetTimestamp();
        lock (this)
        {
            if (reason == _lastProblem && now - _lastProblemLog < LogInterval)
            {
                return false;
            }

            _lastProblem = reason;
            _lastProblemLog = now;
            return true;
        }
    }
}
