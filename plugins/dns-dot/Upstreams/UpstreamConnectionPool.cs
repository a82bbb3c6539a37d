using System.Diagnostics;
using Gateway.Plugins.DnsDot.Resolver;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>
/// The pipelined connections (TLS or plain TCP) to one upstream: pre-warmed to <see cref="UpstreamSettings.MinConnections"/>, grown up to
/// <see cref="UpstreamSettings.MaxConnections"/> when every connection is at its in-flight cap, and
/// maintained in the background (stale ones closed before the server's idle timeout, refilled). Queries
/// beyond the in-flight cap wait in a queue (bounded, and swept for their deadline) until an answer frees a slot.
/// </summary>
internal sealed class UpstreamConnectionPool
{
    /// <summary>Queries that may wait for a free slot; beyond it a query fails at once (and is retried elsewhere).</summary>
    public const int MaxWaiting = 65536;

    private readonly DnsUpstream _upstream;
    private readonly UpstreamSettings _settings;
    private readonly List<UpstreamConnection> _connections = new();
    private readonly Queue<UpstreamQuery> _waiting = new();
    private int _waitingCount;
    private int _connecting;
    private bool _closed;

    /// <summary>Creates an empty pool for <paramref name="owner"/>'s queries.</summary>
    /// <param name="owner">The upstream whose attempts end here (answers, failures, metrics).</param>
    /// <param name="endpoint">Where to connect.</param>
    /// <param name="tls">The TLS identity checks; null for plain TCP.</param>
    /// <param name="settings">Timeouts and limits (a UDP upstream's TCP fallback keeps no warm connection).</param>
    public UpstreamConnectionPool(DnsUpstream owner, UpstreamEndpoint endpoint, DotTlsVerifier? tls, UpstreamSettings settings)
    {
        _upstream = owner;
        Endpoint = endpoint;
        Tls = tls;
        _settings = settings;
    }

    /// <summary>The upstream whose attempts end here.</summary>
    public DnsUpstream Owner => _upstream;

    /// <summary>Where to connect.</summary>
    public UpstreamEndpoint Endpoint { get; }

    /// <summary>The TLS identity checks; null for plain TCP.</summary>
    public DotTlsVerifier? Tls { get; }

    /// <summary>Timeouts and limits of this pool's connections.</summary>
    public UpstreamSettings Settings => _settings;

    /// <summary>True once <see cref="CloseAll"/> ran: the pool opens nothing and fails what it is given.</summary>
    public bool IsClosed
    {
        get
        {
            lock (_connections)
            {
                return _closed;
            }
        }
    }

    /// <summary>Open connections.</summary>
    public int Count
    {
        get
        {
            lock (_connections)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>
    /// Sends <paramref name="query"/> on the least loaded open connection with room; opens one when all are
    /// full (or when <paramref name="fresh"/> asks for a new connection, as the retry does) and the pool may
    /// grow; otherwise queues it. Failures are reported through <see cref="DnsUpstream.OnFailure"/>.
    /// </summary>
    public void Dispatch(UpstreamQuery query, bool fresh)
    {
        UpstreamSettings settings = _settings;
        while (true)
        {
            UpstreamConnection? best;
            bool full = false;
            bool closed;
            lock (_connections)
            {
                closed = _closed;
                best = fresh || closed ? null : LeastLoaded(settings.MaxInFlightPerConnection);
                if (!closed && best is null)
                {
                    if (_connections.Count + _connecting < settings.MaxConnections)
                    {
                        _connecting++;
                    }
                    else if (_waitingCount < MaxWaiting && (_connections.Count > 0 || _connecting > 0))
                    {
                        _waiting.Enqueue(query);
                        _waitingCount++;
                        return;
                    }
                    else
                    {
                        full = true;
                    }
                }
            }

            if (closed)
            {
                // Stopping, or retired by a reload after its drain period: fail at once (the resolver retries
                // elsewhere or answers SERVFAIL) rather than open a connection nobody would close.
                _upstream.OnFailure(query, "upstream closed (stopping or removed by a configuration reload)");
                return;
            }

            if (full)
            {
                UpstreamSettings s = settings;
                _upstream.OnFailure(query, $"in-flight cap reached ({s.MaxConnections} connections × {s.MaxInFlightPerConnection} queries, {MaxWaiting} waiting)");
                return;
            }

            if (best is null)
            {
                _ = OpenAndSendAsync(query);
                return;
            }

            if (best.TrySend(query))
            {
                _upstream.CountReuse();
                return;
            }

            // It closed between the pick and the send: pick again (it is no longer open).
        }
    }

    // Under the lock.
    private UpstreamConnection? LeastLoaded(int cap)
    {
        UpstreamConnection? best = null;
        int bestLoad = int.MaxValue;
        for (int i = _connections.Count - 1; i >= 0; i--)
        {
            UpstreamConnection connection = _connections[i];
            if (!connection.IsOpen)
            {
                _connections.RemoveAt(i);
                continue;
            }

            int load = connection.InFlight;
            if (load < bestLoad)
            {
                best = connection;
                bestLoad = load;
            }
        }

        return bestLoad < cap ? best : null;
    }

    /// <summary>Answers or timeouts freed slots: send queued queries, one write per connection.</summary>
    public void OnSlotFreed()
    {
        if (Volatile.Read(ref _waitingCount) == 0)
        {
            return;
        }

        UpstreamConnection? touched = null;
        UpstreamConnection? touchedOther = null;
        while (true)
        {
            UpstreamQuery query;
            UpstreamConnection? connection;
            lock (_connections)
            {
                if (_waitingCount == 0 || (connection = LeastLoaded(_settings.MaxInFlightPerConnection)) is null)
                {
                    break;
                }

                query = _waiting.Dequeue();
                _waitingCount--;
            }

            if (!connection.TrySend(query, flush: false))
            {
                Dispatch(query, fresh: false);
                continue;
            }

            _upstream.CountReuse();
            if (touched is null || touched == connection)
            {
                touched = connection;
            }
            else if (touchedOther != connection)
            {
                // More than two connections: flush the older one now.
                touchedOther?.Flush();
                touchedOther = connection;
            }
        }

        touched?.Flush();
        touchedOther?.Flush();
    }

    private async Task OpenAndSendAsync(UpstreamQuery query)
    {
        UpstreamConnection connection;
        try
        {
            using var timeout = new CancellationTokenSource(_settings.ConnectTimeout + _settings.HandshakeTimeout);
            connection = await OpenAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is UpstreamException or OperationCanceledException)
        {
            _upstream.OnFailure(query, e.Message);
            FailWaitingIfNoConnection(e.Message);
            return;
        }

        if (!connection.TrySend(query))
        {
            _upstream.OnFailure(query, "connection closed");
        }

        OnSlotFreed();
    }

    private async Task<UpstreamConnection> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            // A host name resolved for the first time (later re-resolutions happen in the background).
            await Endpoint.EnsureResolvedAsync(_upstream, _upstream.Logger, cancellationToken).ConfigureAwait(false);
            UpstreamConnection connection = await UpstreamConnection.ConnectAsync(this, cancellationToken).ConfigureAwait(false);
            bool closed;
            lock (_connections)
            {
                closed = _closed;
                if (!closed)
                {
                    _connections.Add(connection);
                }
            }

            if (closed)
            {
                // CloseAll ran during the handshake: this connection would never be closed otherwise.
                connection.Close("stopping");
                throw new UpstreamException("upstream closed (stopping or removed by a configuration reload)");
            }

            _upstream.OnConnected();

            return connection;
        }
        catch (UpstreamTlsException e)
        {
            _upstream.OnTlsFailure(e.Message);
            throw new UpstreamException(e.Message, e);
        }
        catch (UpstreamException e)
        {
            _upstream.OnConnectFailure(e.Message);
            throw;
        }
        finally
        {
            lock (_connections)
            {
                _connecting--;
            }
        }
    }

    // Nothing can carry the queued queries: fail them now (they retry elsewhere) rather than at their deadline.
    private void FailWaitingIfNoConnection(string reason)
    {
        UpstreamQuery[] failed;
        lock (_connections)
        {
            if (_waitingCount == 0 || _connecting > 0 || LeastLoaded(int.MaxValue) is not null)
            {
                return;
            }

            failed = _waiting.ToArray();
            _waiting.Clear();
            _waitingCount = 0;
        }

        foreach (UpstreamQuery query in failed)
        {
            _upstream.OnFailure(query, reason);
        }
    }

    /// <summary>Fails queries past their attempt deadline, in the connections and in the queue.</summary>
    public void Sweep(long now)
    {
        UpstreamConnection[] connections;
        List<UpstreamQuery>? expired = null;
        lock (_connections)
        {
            connections = _connections.Count == 0 ? [] : [.. _connections];
            while (_waitingCount > 0 && _waiting.Peek().AttemptDeadline <= now)
            {
                (expired ??= new()).Add(_waiting.Dequeue());
                _waitingCount--;
            }
        }

        foreach (UpstreamConnection connection in connections)
        {
            connection.Sweep(now);
        }

        if (expired is not null)
        {
            foreach (UpstreamQuery query in expired)
            {
                _upstream.OnFailure(query, "no free connection slot in time");
            }
        }
    }

    /// <summary>
    /// Background upkeep, called about once a second: closes stale connections (before the server's idle
    /// timeout closes them under a query) and refills to the minimum while the upstream is not excluded
    /// (an excluded one is probed lazily by the next query instead).
    /// </summary>
    public void Maintain(CancellationToken cancellationToken)
    {
        long now = Stopwatch.GetTimestamp();
        List<UpstreamConnection>? closing = null;
        lock (_connections)
        {
            for (int i = _connections.Count - 1; i >= 0; i--)
            {
                UpstreamConnection connection = _connections[i];
                if (!connection.IsOpen || connection.IsStale(now))
                {
                    _connections.RemoveAt(i);
                    (closing ??= new()).Add(connection);
                }
            }

            int open = _connections.Count + _connecting;
            if (_closed || open >= _settings.MinConnections || !_upstream.Health.IsAvailable(now) || cancellationToken.IsCancellationRequested)
            {
                open = -1;
            }
            else
            {
                _connecting++;
            }

            if (open >= 0)
            {
                _ = WarmAsync(cancellationToken);
            }
        }

        if (closing is not null)
        {
            foreach (UpstreamConnection connection in closing)
            {
                // Stale: idle past the stale timeout; otherwise failed or drained (RFC 7828 keepalive 0).
                connection.Close(connection.IsOpen ? "idle past the stale timeout; replacing it" : "drained");
            }
        }
    }

    private async Task WarmAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            await OpenAsync(cancellationToken).ConfigureAwait(false);
            OnSlotFreed();
        }
        catch (Exception e) when (e is UpstreamException or OperationCanceledException)
        {
            // Already logged and counted by the upstream; the next tick or query tries again.
        }
    }

    /// <summary>
    /// Closes every connection for good (stopping, or retired by a reload after its drain period): queued
    /// queries fail, and later queries fail at once instead of opening connections.
    /// </summary>
    public void CloseAll(string reason = "stopping")
    {
        UpstreamConnection[] connections;
        UpstreamQuery[] waiting;
        lock (_connections)
        {
            _closed = true;
            connections = [.. _connections];
            _connections.Clear();
            waiting = _waiting.ToArray();
            _waiting.Clear();
            _waitingCount = 0;
        }

        foreach (UpstreamConnection connection in connections)
        {
            connection.Close(reason);
        }

        foreach (UpstreamQuery query in waiting)
        {
            _upstream.OnFailure(query, reason);
        }
    }
}
