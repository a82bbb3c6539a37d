using System.Diagnostics;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Resolver;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>
/// One upstream, whatever its transport: what load balancing sees (health with back-off, queries outstanding,
/// smoothed latency), its metrics by upstream, and the one place where an attempt ends — <see cref="OnAnswer"/> or
/// <see cref="OnFailure"/>, exactly once per <see cref="Send"/>. The transports (<see cref="StreamUpstream"/> for
/// tls:// and tcp://, <see cref="Udp.UdpUpstream"/>, <see cref="Https.HttpsUpstream"/>) only move bytes.
/// </summary>
internal abstract class DnsUpstream : IBalancedUpstream
{
    private static readonly long LogInterval = Stopwatch.Frequency * 30;
    private int _outstanding;
    private long _reuses;
    private double _latencyMs;
    private long _connections;
    private long _failures;
    private long _answered;
    private long _lastProblemLog = long.MinValue / 2;
    private string? _lastProblem;

    /// <summary>Creates the upstream; nothing connects until <see cref="Maintain"/> or a query.</summary>
    protected DnsUpstream(string name, UpstreamEndpoint endpoint, UpstreamSettings settings, DnsDotMetrics metrics, ILogger logger)
    {
        Name = name;
        Endpoint = endpoint;
        Settings = settings;
        Metrics = metrics;
        Logger = logger;
        Tag = new KeyValuePair<string, object?>("upstream", name);
        Health = new UpstreamHealth(settings.BaseExclusion, settings.MaxExclusion);
        ReadTimeoutTicks = (long)(settings.ReadTimeout.TotalSeconds * Stopwatch.Frequency);
        metrics.Register(this);
    }

    /// <summary>
    /// Everything the upstream was built from; a reload keeps this upstream (its connections and health) when the
    /// new configuration yields an equal key. Null for upstreams built outside a configuration.
    /// </summary>
    public UpstreamKey? Key { get; init; }

    /// <summary>The address as configured (the metric tag and log name).</summary>
    public string Name { get; }

    /// <summary>Where the upstream is (a fixed address, or a host name re-resolved on its TTL).</summary>
    public UpstreamEndpoint Endpoint { get; }

    /// <summary>"udp", "tcp", "tls" or "https".</summary>
    public abstract string Protocol { get; }

    /// <summary>Shared timeouts and limits.</summary>
    public UpstreamSettings Settings { get; }

    /// <summary>The plugin's instruments.</summary>
    public DnsDotMetrics Metrics { get; }

    /// <summary>The plugin's logger.</summary>
    public ILogger Logger { get; }

    /// <summary>The metric tag naming this upstream.</summary>
    public KeyValuePair<string, object?> Tag { get; }

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

    /// <summary>Open connections (sockets in flight for UDP).</summary>
    public abstract int OpenConnections { get; }

    /// <summary>True once <see cref="Close"/> ran: nothing new is opened, queries given to it fail at once.</summary>
    public abstract bool IsClosed { get; }

    /// <summary>The attempt timeout in Stopwatch ticks.</summary>
    protected long ReadTimeoutTicks { get; }

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
        query.AttemptDeadline = Math.Min(now + ReadTimeoutTicks, query.Deadline);
        Dispatch(query, freshConnection);
    }

    /// <summary>A transport matched an answer to <paramref name="query"/>; <paramref name="message"/> may be changed in place.</summary>
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
            DnsDotLog.UpstreamRecovered(Logger, Name);
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
        if (Logger.IsEnabled(LogLevel.Debug))
        {
            DnsDotLog.QueryFailed(Logger, Name, reason);
        }

        query.Resolver.OnUpstreamFailure(query);
        AfterFailure();
    }

    /// <summary>One query went out on an already open connection.</summary>
    public void CountReuse() => Interlocked.Increment(ref _reuses);

    /// <summary>Fails queries past their attempt deadline (a few times a second).</summary>
    public abstract void Sweep(long now);

    /// <summary>Background upkeep, about once a second (warm connections, re-resolving a host name).</summary>
    public abstract void Maintain(CancellationToken cancellationToken);

    /// <summary>
    /// Closes every connection for good (stopping, or retired by a reload after its drain period): queries in
    /// flight or queued fail, and later ones fail at once.
    /// </summary>
    public abstract void Close(string reason = "stopping");

    /// <summary>A connection completed its handshake (or connect, for plain TCP).</summary>
    public void OnConnected()
    {
        long count = Interlocked.Increment(ref _connections);
        Metrics.UpstreamConnectionsOpened.Add(1, Tag);
        if (count > 1 && Protocol is "tls" or "https")
        {
            // The shared SslClientAuthenticationOptions let the BCL resume the TLS session of earlier
            // connections to the same host; SslStream does not expose whether it did, so this counts attempts.
            Metrics.UpstreamConnectionsResumed.Add(1, Tag);
        }

        _lastProblem = null;

        // A verified handshake is proof of life: end any exclusion (the background refill is the probe).
        if (Health.IsDegraded)
        {
            DnsDotLog.UpstreamRecovered(Logger, Name);
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
            DnsDotLog.TlsFailure(Logger, Name, reason);
        }
    }

    /// <summary>TCP connect failed or timed out.</summary>
    public void OnConnectFailure(string reason)
    {
        Metrics.UpstreamConnectionErrors.Add(1, Tag);
        Health.ReportFailure(Stopwatch.GetTimestamp());
        if (ShouldLog(reason))
        {
            DnsDotLog.ConnectFailure(Logger, Name, reason);
        }
    }

    /// <summary>A connection ended.</summary>
    public void OnConnectionClosed(string reason)
    {
        Metrics.UpstreamConnectionsClosed.Add(1, Tag);
        DnsDotLog.ConnectionClosed(Logger, Name, reason);
    }

    /// <summary>A message arrived that matches no query in flight.</summary>
    public void CountUnmatched(ushort id)
    {
        Metrics.UnmatchedResponses.Add(1, Tag);
        DnsDotLog.UnmatchedResponse(Logger, Name, id);
    }

    /// <summary>True when a problem should be logged: a new reason, or the same one 30 s after it was last logged.</summary>
    public bool ShouldLog(string reason)
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

    /// <summary>Hands the query to the transport; it ends in <see cref="OnAnswer"/> or <see cref="OnFailure"/>.</summary>
    protected abstract void Dispatch(UpstreamQuery query, bool freshConnection);

    /// <summary>After a failed attempt was handed back to the resolver: a slot was freed (queued queries may go).</summary>
    protected virtual void AfterFailure()
    {
    }
}
