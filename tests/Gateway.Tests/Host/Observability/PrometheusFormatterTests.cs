using System.Diagnostics.Metrics;
using Gateway.Host.Observability;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Host.Observability;

public sealed class PrometheusFormatterTests
{
    private static MetricFamily Family(string name, string? unit, MetricKind kind, params MetricPoint[] points) =>
        new("Gateway.Host", name, unit, "help for " + name, kind, null, points);

    private static MetricPoint Point(double value, params (string Key, string Value)[] tags) =>
        new(tags.Select(t => new KeyValuePair<string, string>(t.Key, t.Value)).ToArray(), value, null, 0, 0);

    [Theory]
    [InlineData("dns.request.duration", "s", "Histogram", "dns_request_duration_seconds")]
    [InlineData("tun.rx", "By", "Counter", "tun_rx_bytes_total")]
    [InlineData("tun.rx-bytes", "By", "Counter", "tun_rx_bytes_total")]
    [InlineData("wg.handshakes", "{handshake}", "Counter", "wg_handshakes_total")]
    [InlineData("queue.depth", null, "Gauge", "queue_depth")]
    [InlineData("cpu.time_seconds", "s", "Counter", "cpu_time_seconds_total")]
    [InlineData("sent_total", null, "Counter", "sent_total")]
    [InlineData("2xx.responses", "1", "UpDownCounter", "_2xx_responses")]
    [InlineData("link.rate", "By/s", "Gauge", "link_rate_bytes_per_second")]
    [InlineData("latency", "ms", "Histogram", "latency_milliseconds")]
    public void MetricName_InstrumentNameAndUnit_FollowsPrometheusConventions(string name, string? unit, string kind, string expected)
    {
        Assert.Equal(expected, PrometheusFormatter.MetricName(Family(name, unit, Enum.Parse<MetricKind>(kind))));
    }

    [Fact]
    public void Format_CounterGaugeUpDown_WritesHelpTypeAndSamples()
    {
        var snapshot = new MetricsSnapshot([
            Family("gateway.packets", "{packet}", MetricKind.Counter, Point(12, ("dir", "rx")), Point(3, ("dir", "tx"))),
            Family("gateway.sessions", null, MetricKind.UpDownCounter, Point(-2)),
            Family("gateway.temperature", null, MetricKind.Gauge, Point(21.5)),
        ]);

        PrometheusText text = PrometheusText.Parse(PrometheusFormatter.Format(snapshot));

        Assert.Equal("counter", text.Types["gateway_packets_total"]);
        Assert.Equal("help for gateway.packets", text.Help["gateway_packets_total"]);
        Assert.Equal(12, text.Value("gateway_packets_total", ("dir", "rx")));
        Assert.Equal(3, text.Value("gateway_packets_total", ("dir", "tx")));
        Assert.Equal("gauge", text.Types["gateway_sessions"]);
        Assert.Equal(-2, text.Value("gateway_sessions"));
        Assert.Equal(21.5, text.Value("gateway_temperature"));
    }

    [Fact]
    public void Format_Histogram_WritesCumulativeBucketsSumAndCount()
    {
        var family = new MetricFamily("Gateway.Host", "dns.request.duration", "s", "Query time", MetricKind.Histogram, [0.01, 0.1, 1],
            [new MetricPoint([new("transport", "udp")], 0, [4, 0, 3, 1], 7.25, 8)]);

        PrometheusText text = PrometheusText.Parse(PrometheusFormatter.Format(new MetricsSnapshot([family])));

        Assert.Equal("histogram", text.Types["dns_request_duration_seconds"]);
        Assert.Equal(4, text.Value("dns_request_duration_seconds_bucket", ("transport", "udp"), ("le", "0.01")));
        Assert.Equal(4, text.Value("dns_request_duration_seconds_bucket", ("transport", "udp"), ("le", "0.1")));
        Assert.Equal(7, text.Value("dns_request_duration_seconds_bucket", ("transport", "udp"), ("le", "1")));
        Assert.Equal(8, text.Value("dns_request_duration_seconds_bucket", ("transport", "udp"), ("le", "+Inf")));
        Assert.Equal(7.25, text.Value("dns_request_duration_seconds_sum", ("transport", "udp")));
        Assert.Equal(8, text.Value("dns_request_duration_seconds_count", ("transport", "udp")));
    }

    [Fact]
    public void Format_LabelValueWithQuoteBackslashNewline_IsEscapedAndRoundTrips()
    {
        const string Awkward = "a \"quoted\" C:\\path\nnext line";
        var snapshot = new MetricsSnapshot([Family("errors", null, MetricKind.Counter, Point(1, ("message", Awkward), ("bad-key.name", "x")))]);

        string output = PrometheusFormatter.Format(snapshot);
        PrometheusText text = PrometheusText.Parse(output);

        Assert.Contains("message=\"a \\\"quoted\\\" C:\\\\path\\nnext line\"", output);
        Assert.Equal(1, text.Value("errors_total", ("bad_key_name", "x"), ("message", Awkward)));
    }

    [Fact]
    public void Format_HelpWithNewline_IsEscaped()
    {
        var family = new MetricFamily("Gateway.Host", "x", null, "line one\nline two \\ end", MetricKind.Gauge, null, [Point(1)]);

        PrometheusText text = PrometheusText.Parse(PrometheusFormatter.Format(new MetricsSnapshot([family])));

        Assert.Equal("line one\\nline two \\\\ end", text.Help["x"]);
    }

    [Fact]
    public void Format_SameNameFromTwoPlugins_OneHelpAndTypeWithBothSeries()
    {
        using var collector = new MetricsCollector(NullLogger.Instance);
        string a = "obs-a-" + Guid.NewGuid().ToString("N");
        string b = "obs-b-" + Guid.NewGuid().ToString("N");
        string instrument = "obs_shared_" + Guid.NewGuid().ToString("N");
        using var meterA = new Meter("Gateway.Plugins." + a);
        using var meterB = new Meter("Gateway.Plugins." + b);
        meterA.CreateCounter<long>(instrument).Add(1);
        meterB.CreateCounter<long>(instrument).Add(2);

        PrometheusText text = PrometheusText.Parse(PrometheusFormatter.Format(collector.Snapshot()));

        Assert.Equal(1, text.Value(instrument + "_total", ("plugin", a)));
        Assert.Equal(2, text.Value(instrument + "_total", ("plugin", b)));
    }

    [Theory]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(0.1, "0.1")]
    [InlineData(1e21, "1E+21")]
    [InlineData(-3.0, "-3")]
    public void FormatValue_SpecialAndOrdinaryValues_UsesGoParseableText(double value, string expected)
    {
        Assert.Equal(expected, PrometheusFormatter.FormatValue(value));
    }
}
