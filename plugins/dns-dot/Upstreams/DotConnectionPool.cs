using System.Diagnostics;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>
/// The connections to one upstream: pre-warmed to <see cref="UpstreamSettings.MinConnections"/>, grown up to
/// <see cref="UpstreamSettings.MaxConnections"/> when every connection is at its in-flight cap, and
/// maintained in the background (stale ones closed before the server's idle timeout, refilled).
/// </summary>
internal sealed class DotConnectionPool
{
    private readonly DotUpstream _upstream;
    private readonly List<DotConnection> _connections = new();
    private int _connecting;

    /// <summary>Creates an empty pool.</summary>
    public DotConnectionPool(DotUpstream upstream) => _upstream = upstream;

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
    /// A connection with room for one more query: the least loaded open one, or a new one when all are full
    /// (or when <paramref name="fresh"/> asks for a new connection, as the retry does).
    /// </summary>
    public async ValueTask<DotConnection> AcquireAsync(bool fresh, CancellationToken cancellationToken)
    {
        UpstreamSettings settings = _upstream.Settings;
        lock (_connections)
        {
            DotConnection? best = null;
            int bestLoad = int.MaxValue;
            for (int i = _connections.Count - 1; i >= 0; i--)
            {
                DotConnection connection = _connections[i];
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

            bool full = best is null || bestLoad >= settings.MaxInFlightPerConnection;
            bool canGrow = _connections.Count + _connecting < settings.MaxConnections;
            if (!fresh && !full)
            {
                _upstream.Metrics.ConnectionReuses.Add(1, _upstream.Tag);
                return best!;
            }

            if (!canGrow)
            {
                if (best is not null && bestLoad < settings.MaxInFlightPerConnection)
                {
                    return best;
                }

                throw new UpstreamException($"in-flight cap reached ({settings.MaxConnections} connections × {settings.MaxInFlightPerConnection} queries)");
            }

            _connecting++;
        }

        return await OpenAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<DotConnection> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            DotConnection connection = await DotConnection.ConnectAsync(_upstream, cancellationToken).ConfigureAwait(false);
            _upstream.OnConnected();
            lock (_connections)
            {
                _connections.Add(connection);
            }

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

    /// <summary>
    /// Background upkeep, called about once a second: closes stale connections (before the server's idle
    /// timeout closes them under a query) and refills to the minimum while the upstream is not excluded
    /// (an excluded one is probed lazily by the next query instead).
    /// </summary>
    public void Maintain(CancellationToken cancellationToken)
    {
        long now = Stopwatch.GetTimestamp();
        int open = 0;
        lock (_connections)
        {
            for (int i = _connections.Count - 1; i >= 0; i--)
            {
                DotConnection connection = _connections[i];
                if (connection.IsOpen && connection.IsStale(now))
                {
                    _connections.RemoveAt(i);
                    connection.Close("idle past the stale timeout; replacing it");
                }
                else if (!connection.IsOpen)
                {
                    // Failed, or drained at the server's request (RFC 7828 keepalive 0): close it for good.
                    _connections.RemoveAt(i);
                    connection.Close("drained");
                }
            }

            open = _connections.Count + _connecting;
            if (open >= _upstream.Settings.MinConnections || !_upstream.Health.IsAvailable(now) || cancellationToken.IsCancellationRequested)
            {
                return;
            }

            _connecting++;
        }

        _ = WarmAsync(cancellationToken);
    }

    private async Task WarmAsync(CancellationToken cancellationToken)
    {
        try
        {
            await OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is UpstreamException or OperationCanceledException)
        {
            // Already logged and counted by the upstream; the next tick or query tries again.
        }
    }

    /// <summary>Closes every connection.</summary>
    public void CloseAll()
    {
        lock (_connections)
        {
            foreach (DotConnection connection in _connections)
            {
                connection.Close("stopping");
            }

            _connections.Clear();
        }
    }
}
