using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Host.Observability;
using Gateway.Plugins.DnsDot;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Host.Observability;

public sealed class StatsdExporterTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    // A real statsd "server": a UDP socket on loopback.
    private readonly Socket _server = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly MetricsCollector _collector = new(NullLogger.Instance);
    private readonly Meter _meter = new("Gateway.Tests.Observability." + Guid.NewGuid().ToString("N"));
    // Every instrument name of this test carries the marker, so lines of other tests' meters are ignored.
    private readonly string _marker = "obs" + Guid.NewGuid().ToString("N")[..12];

    public StatsdExporterTests()
    {
        _server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    }

    private NetEndpoint ServerEndpoint => NetEndpoint.FromIPEndPoint((IPEndPoint)_server.LocalEndPoint!);

    public void Dispose()
    {
        _meter.Dispose();
        _collector.Dispose();
        _server.Dispose();
    }

    [Fact]
    public async Task ExportNow_Counter_SendsDeltasWithDogStatsdTags()
    {
        Counter<long> counter = _meter.CreateCounter<long>(_marker + ".queries");
        await using var exporter = await StartAsync();

        counter.Add(3, new KeyValuePair<string, object?>("rcode", "NOERROR"));
        Assert.Equal([$"gateway.{_marker}.queries:3|c|#rcode:NOERROR"], await ExportAndReceiveAsync(exporter));

        counter.Add(2, new KeyValuePair<string, object?>("rcode", "NOERROR"));
        Assert.Equal([$"gateway.{_marker}.queries:2|c|#rcode:NOERROR"], await ExportAndReceiveAsync(exporter));

        // Nothing counted since: no line for it (a marker gauge makes the datagram arrive at all).
        _meter.CreateObservableGauge(_marker + ".alive", () => 1);
        Assert.Equal([$"gateway.{_marker}.alive:1|g"], await ExportAndReceiveAsync(exporter));
    }

    [Fact]
    public async Task ExportNow_NegativeGauge_IsSetThroughZero()
    {
        _meter.CreateObservableUpDownCounter(_marker + ".balance", () => -5);
        await using var exporter = await StartAsync();

        Assert.Equal([$"gateway.{_marker}.balance:0|g", $"gateway.{_marker}.balance:-5|g"], await ExportAndReceiveAsync(exporter));
    }

    [Fact]
    public async Task ExportNow_HistogramInSeconds_SendsMeanMillisecondsWithSampleRate()
    {
        Histogram<double> histogram = _meter.CreateHistogram<double>(_marker + ".duration", unit: "s");
        await using var exporter = await StartAsync(StatsdTagFormat.Influx);

        foreach (double seconds in new[] { 0.010, 0.020, 0.030, 0.040 })
        {
            histogram.Record(seconds, new KeyValuePair<string, object?>("upstream", "127.0.0.1:853"));
        }

        // Influx tags as dotproxy writes them; ':' in a tag value is reserved by statsd and replaced.
        Assert.Equal([$"gateway.{_marker}.duration,upstream=127.0.0.1_853:25|ms|@0.25"], await ExportAndReceiveAsync(exporter));
    }

    [Fact]
    public async Task ExportNow_ManySeries_PackedIntoDatagramsOfAtMost1432Bytes()
    {
        Counter<long> counter = _meter.CreateCounter<long>(_marker + ".per_client");
        for (int i = 0; i < 300; i++)
        {
            counter.Add(i + 1, new KeyValuePair<string, object?>("client", $"10.0.{i / 256}.{i % 256}"));
        }

        await using var exporter = await StartAsync();
        int sent = exporter.ExportNow();

        var lines = new List<string>();
        var buffer = new byte[65536];
        using var timeout = new CancellationTokenSource(Generous);
        for (int i = 0; i < sent; i++)
        {
            int length = await _server.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            Assert.InRange(length, 1, StatsdExporter.MaxPacketBytes);
            lines.AddRange(Encoding.UTF8.GetString(buffer, 0, length).Split('\n'));
        }

        List<string> mine = lines.Where(l => l.Contains(_marker, StringComparison.Ordinal)).ToList();
        Assert.Equal(300, mine.Count);
        Assert.Contains($"gateway.{_marker}.per_client:300|c|#client:10.0.1.43", mine);
        Assert.True(sent > 1);
    }

    [Fact]
    public async Task StartAsync_ShortInterval_PushesWithoutBeingAsked()
    {
        _meter.CreateObservableGauge(_marker + ".tick", () => 7);
        await using var exporter = new StatsdExporter(ServerEndpoint, _collector, NullLogger.Instance, TimeSpan.FromMilliseconds(100));
        await exporter.StartAsync(CancellationToken.None);

        string line = await ReceiveMineAsync();

        Assert.Equal($"gateway.{_marker}.tick:7|g", line);
    }

    [Fact]
    public async Task StopAsync_PendingDelta_IsFlushed()
    {
        Counter<int> counter = _meter.CreateCounter<int>(_marker + ".last");
        var exporter = new StatsdExporter(ServerEndpoint, _collector, NullLogger.Instance, TimeSpan.FromHours(1), StatsdTagFormat.None);
        await exporter.StartAsync(CancellationToken.None);
        counter.Add(9, new KeyValuePair<string, object?>("ignored", "tag"));

        await exporter.StopAsync(CancellationToken.None);

        Assert.Equal($"gateway.{_marker}.last:9|c", await ReceiveMineAsync());
    }

    [Fact]
    public async Task ExportNow_NoServerListening_KeepsExportingWhenServerComesBack()
    {
        _server.Dispose();
        _meter.CreateObservableGauge(_marker + ".lost", () => 1);
        ushort port = FreeUdpPortThatIsClosed();
        var nowhere = new NetEndpoint(NetAddress.Parse("127.0.0.1"), port);
        await using var exporter = new StatsdExporter(nowhere, _collector, NullLogger.Instance);
        await exporter.StartAsync(CancellationToken.None);

        // Nobody listens: each send draws an ICMP port unreachable (ECONNREFUSED on the next send), which must not
        // break the exporter.
        exporter.ExportNow();
        exporter.ExportNow();

        using var server = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, port));
        var buffer = new byte[65536];
        string received = string.Empty;
        long deadline = Environment.TickCount64 + (long)Generous.TotalMilliseconds;
        while (!received.Contains($"gateway.{_marker}.lost:1|g", StringComparison.Ordinal))
        {
            Assert.True(Environment.TickCount64 < deadline, "no statsd line after the server came back: " + received);
            exporter.ExportNow();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                int length = await server.ReceiveAsync(buffer, SocketFlags.None, wait.Token);
                received = System.Text.Encoding.ASCII.GetString(buffer, 0, length);
            }
            catch (OperationCanceledException)
            {
                // Not yet: export again.
            }
        }
    }

    [Theory]
    [InlineData("dns.request.duration", "latency.proxy.tx_rtt", "gateway", "gateway.latency.proxy.tx_rtt")]
    [InlineData("dns.upstream.connections.opened", "event.upstream.cx_open", "dotproxy", "dotproxy.event.upstream.cx_open")]
    [InlineData("dns.cache.hits", null, "gateway", "gateway.dns.cache.hits")]
    [InlineData("gateway.plugin.handler_failures", null, "gateway", "gateway.plugin.handler_failures")]
    [InlineData("tun.rx|bad:name", null, "gateway", "gateway.tun.rx_bad_name")]
    public void StatsdNames_For_UsesTheOwnersStatsdNameElseTheInstrumentName(string instrument, string? statsdName, string prefix, string expected)
    {
        var family = new MetricFamily("Gateway.Plugins.any", instrument, null, null, MetricKind.Counter, null, [], statsdName);

        Assert.Equal(expected, StatsdNames.For(family, prefix));
    }

    /// <summary>
    /// dns-dot's dotproxy names now come from its own instruments (InstrumentTags.Statsd), not from a host table:
    /// the lines are exactly what the host's table produced before (dotproxy's names under prefix "dotproxy").
    /// </summary>
    [Fact]
    public async Task ExportNow_DnsDotInstruments_KeepDotproxyNames()
    {
        using var meter = new Meter("Gateway.Plugins.dns-dot");
        var dns = new DnsDotMetrics(meter);
        var tag = new KeyValuePair<string, object?>("test", _marker);
        var exporter = new StatsdExporter(ServerEndpoint, _collector, NullLogger.Instance, TimeSpan.FromHours(1), StatsdTagFormat.DogStatsd, prefix: "dotproxy");
        await exporter.StartAsync(CancellationToken.None);

        dns.ClientConnectionsOpened.Add(1, tag);
        dns.ClientConnectionsClosed.Add(2, tag);
        dns.ClientReadErrors.Add(3, tag);
        dns.ClientWriteErrors.Add(4, tag);
        dns.UpstreamConnectionsOpened.Add(5, tag);
        dns.UpstreamConnectionsClosed.Add(6, tag);
        dns.UpstreamConnectionErrors.Add(7, tag);
        dns.UpstreamReadErrors.Add(8, tag);
        dns.UpstreamWriteErrors.Add(9, tag);
        dns.UpstreamRetries.Add(10, tag);
        dns.RequestSize.Record(40, tag);
        dns.ResponseSize.Record(80, tag);
        dns.RequestDuration.Record(0.004, tag);
        dns.UpstreamDuration.Record(0.002, tag);
        dns.CacheHits.Add(11, tag);

        string[] lines = await ExportAndReceiveAsync(exporter);
        await exporter.DisposeAsync();

        string t = "|#plugin:dns-dot,test:" + _marker;
        Assert.Equal(
            new[]
            {
                "dotproxy.dns.cache.hits:11|c" + t,
                "dotproxy.event.client.cx_close:2|c" + t,
                "dotproxy.event.client.cx_open:1|c" + t,
                "dotproxy.event.client.read_error:3|c" + t,
                "dotproxy.event.client.write_error:4|c" + t,
                "dotproxy.event.upstream.cx_close:6|c" + t,
                "dotproxy.event.upstream.cx_error:7|c" + t,
                "dotproxy.event.upstream.cx_open:5|c" + t,
                "dotproxy.event.upstream.io_retry:10|c" + t,
                "dotproxy.event.upstream.read_error:8|c" + t,
                "dotproxy.event.upstream.write_error:9|c" + t,
                "dotproxy.latency.proxy.tx_rtt:4|ms" + t,
                "dotproxy.latency.proxy.tx_upstream:2|ms" + t,
                "dotproxy.size.proxy.request:40|ms" + t,
                "dotproxy.size.proxy.response:80|ms" + t,
            },
            lines.Order(StringComparer.Ordinal).ToArray());
    }

    private async Task<StatsdExporter> StartAsync(StatsdTagFormat format = StatsdTagFormat.DogStatsd)
    {
        // A long interval: the tests push with ExportNow so that each datagram is predictable.
        var exporter = new StatsdExporter(ServerEndpoint, _collector, NullLogger.Instance, TimeSpan.FromHours(1), format);
        await exporter.StartAsync(CancellationToken.None);
        return exporter;
    }

    /// <summary>Pushes once and returns this test's lines, in order, from every datagram of that push.</summary>
    private async Task<string[]> ExportAndReceiveAsync(StatsdExporter exporter)
    {
        int sent = exporter.ExportNow();
        var lines = new List<string>();
        var buffer = new byte[65536];
        using var timeout = new CancellationTokenSource(Generous);
        for (int i = 0; i < sent; i++)
        {
            int length = await _server.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            lines.AddRange(Encoding.UTF8.GetString(buffer, 0, length).Split('\n').Where(l => l.Contains(_marker, StringComparison.Ordinal)));
        }

        return [.. lines];
    }

    /// <summary>Receives datagrams until one holds a line of this test.</summary>
    private async Task<string> ReceiveMineAsync()
    {
        var buffer = new byte[65536];
        using var timeout = new CancellationTokenSource(Generous);
        while (true)
        {
            int length = await _server.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            string? line = Encoding.UTF8.GetString(buffer, 0, length).Split('\n').FirstOrDefault(l => l.Contains(_marker, StringComparison.Ordinal));
            if (line is not null)
            {
                return line;
            }
        }
    }

    private static ushort FreeUdpPortThatIsClosed()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (ushort)((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
