using System.Diagnostics;
using System.Net;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Resolver;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>One DoT upstream: its verified TLS identity, connection pool, health and latency.</summary>
internal sealed class DotUpstream : IBalancedUpstream
{
    private static readonly long LogInterval = Stopwatch.Frequency * 30;
    private readonly ILogger _logger;
    private readonly long _readTimeoutTicks;
    private int _outstanding;
    private long _reuses;
    private double _latencyMs;
    private long _connections;
    private long _failures;
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
        _readTimeoutTicks = (long)(settings.ReadTimeout.TotalSeconds * Stopwatch.Frequency);
        metrics.Register(this);
    }

    /// <summary>
    /// Everything the upstream was built from; a reload keeps this upstream (its pool and warm connections)
    /// when the new configuration yields an equal key. Null for upstreams built outside a configuration.
    /// </summary>
    public UpstreamKey? Key { get; init; }

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

    /// <summary>Attempts that failed (timeout, connection lost, no connection) since start.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Queries sent on an already open connection (dns.upstream.connections.reused).</summary>
    public long Reuses => Interlocked.Read(ref _reuses);

    /// <summary>
    /// Sends <paramref name="query"/> (attempt deadline: the read timeout, within the query's own deadline).
    /// Exactly one of <see cref="OnAnswer"/> or <see cref="OnFailure"/> follows, on whatever thread finishes it.
    /// </summary>
    public void Send(UpstreamQuery query, bool freshConnection)
    {
        Interlocked.Increment(ref _outstanding);
        long now = Stopwatch.GetTimestamp();
        query.Upstream = this;
        query.SentAt = now;
        query.AttemptDeadline = Math.Min(now + _readTimeoutTicks, query.Deadline);
        Pool.Dispatch(query, freshConnection);
    }

    /// <summary>A connection matched an answer to <paramref name="query"/>; <paramref name="message"/> is in its read buffer.</summary>
    public void OnAnswer(UpstreamQuery query, Span<byte> message, in Wire.DnsResponseInfo response)
    {
        Interlocked.Decrement(ref _outstanding);
        long elapsedTicks = Stopwatch.GetTimestamp() - query.SentAt;
        Metrics.UpstreamDuration.Record((double)elapsedTicks / Stopwatch.Frequency, Tag);
        double elapsed = elapsedTicks * 1000.0 / Stopwatch.Frequency;
        double previous = Volatile.Read(ref _latencyMs);
        Volatile.Write(ref _latencyMs, previous == 0 ? elapsed : (previous * 0.8) + (elapsed * 0.2));
        if (Health.IsDegraded)
        {
            DnsDotLog.UpstreamRecovered(_logger, Name);
            Health.ReportSuccess();
        }

        Interlocked.Increment(ref _answered);
        query.Resolver.OnUpstreamAnswer(query, message, response);
    }

    /// <summary>The attempt failed (timeout, connection lost, no connection): health, metrics, then the resolver retries or gives up.</summary>
    public void OnFailure(UpstreamQuery query, string reason)
    {
        Interlocked.Decrement(ref _outstanding);
        Interlocked.Increment(ref _failures);
        Metrics.UpstreamReadErrors.Add(1, Tag);
        Health.ReportFailure(Stopwatch.GetTimestamp());
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            DnsDotLog.QueryFailed(_logger, Name, reason);
        }

        query.Resolver.OnUpstreamFailure(query);
        Pool.OnSlotFreed();
    }

    /// <summary>One query went out on an already open connection.</summary>
    public void CountReuse() => Interlocked.Increment(ref _reuses);

    /// <summary>Fails queries past their attempt deadline (a few times a second).</summary>
    public void Sweep(long now) => Pool.Sweep(now);

    /// <summary>Background upkeep of the pool.</summary>
    public void Maintain(CancellationToken cancellationToken) => Pool.Maintain(cancellationToken);

    /// <summary>A connection completed its handshake.</summary>
    public void OnConnected()
    {
        long count = Interlocked.Increment(ref _connections);
        Metrics.UpstreamConnectionsOpened.Add(1, Tag);
        if (count > 1)
        {
            // The shared SslClientAuthenticationOptions let the BCL resume the TLS session of earlier
            // connections to the same host; SslStream does not expose whether it did, so this counts attempts.
            Metrics.UpstreamConnectionsResumed.Add(1, Tag);
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
        Metrics.UpstreamConnectionErrors.Add(1, Tag);
        Health.ReportFailure(Stopwatch.GetTimestamp());
        if (ShouldLog(reason))
        {
            DnsDotLog.TlsFailure(_logger, Name, reason);
        }
    }

    /// <summary>TCP connect failed or timed out.</summary>
    public void OnConnectFailure(string reason)
    {
        Metrics.UpstreamConnectionErrors.Add(1, Tag);
        Health.ReportFailure(Stopwatch.GetTimestamp());
        if (ShouldLog(reason))
        {
            DnsDotLog.ConnectFailure(_logger, Name, reason);
        }
    }

    /// <summary>A connection ended.</summary>
    public void OnConnectionClosed(string reason)
    {
        Metrics.UpstreamConnectionsClosed.Add(1, Tag);
        DnsDotLog.ConnectionClosed(_logger, Name, reason);
    }

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
