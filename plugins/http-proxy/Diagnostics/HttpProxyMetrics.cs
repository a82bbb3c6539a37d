using System.Diagnostics.Metrics;

namespace Gateway.Plugins.HttpProxy.Diagnostics;

/// <summary>The plugin's instruments on its meter (exported by the host as Prometheus and statsd).</summary>
internal sealed class HttpProxyMetrics
{
    // Tag values boxed once, so recording a request allocates nothing.
    private static readonly object[] s_statusBoxes = CreateStatusBoxes();
    private static readonly object s_true = true;
    private static readonly object s_false = false;

    private readonly Counter<long> _requests;
    private readonly Counter<long> _bytesFromClients;
    private readonly Counter<long> _bytesToClients;
    private readonly UpDownCounter<long> _activeTunnels;
    private readonly UpDownCounter<long> _activeConnections;
    private readonly Histogram<double> _originLatency;
    private readonly Counter<long> _originConnections;

    public HttpProxyMetrics(Meter meter)
    {
        _requests = meter.CreateCounter<long>("http_proxy.requests", "{request}", "Requests answered, by status code (CONNECT included).");
        _bytesFromClients = meter.CreateCounter<long>("http_proxy.client.bytes_received", "By", "Bytes received from clients (heads, bodies, tunnel data).");
        _bytesToClients = meter.CreateCounter<long>("http_proxy.client.bytes_sent", "By", "Bytes sent to clients (heads, bodies, tunnel data).");
        _activeTunnels = meter.CreateUpDownCounter<long>("http_proxy.tunnels.active", "{tunnel}", "CONNECT tunnels open now.");
        _activeConnections = meter.CreateUpDownCounter<long>("http_proxy.connections.active", "{connection}", "Client connections open now.");
        _originLatency = meter.CreateHistogram<double>("http_proxy.origin.duration", "s", "Time from sending a request to the origin to its response head.");
        _originConnections = meter.CreateCounter<long>("http_proxy.origin.connections", "{connection}", "Origin connections used per request, by whether a pooled one was reused.");
    }

    public void Request(int status) =>
        _requests.Add(1, new KeyValuePair<string, object?>("status", (uint)(status - 100) < 500 ? s_statusBoxes[status - 100] : s_statusBoxes[0]));

    public void ClientBytes(long received, long sent)
    {
        if (received > 0)
        {
            _bytesFromClients.Add(received);
        }

        if (sent > 0)
        {
            _bytesToClients.Add(sent);
        }
    }

    public void TunnelOpened() => _activeTunnels.Add(1);

    public void TunnelClosed() => _activeTunnels.Add(-1);

    public void ConnectionOpened() => _activeConnections.Add(1);

    public void ConnectionClosed() => _activeConnections.Add(-1);

    public void OriginLatency(double seconds) => _originLatency.Record(seconds);

    public void OriginConnection(bool reused) => _originConnections.Add(1, new KeyValuePair<string, object?>("reused", reused ? s_true : s_false));

    private static object[] CreateStatusBoxes()
    {
        object[] boxes = new object[500];
        for (int i = 0; i < boxes.Length; i++)
        {
            boxes[i] = i + 100;
        }

        return boxes;
    }
}
