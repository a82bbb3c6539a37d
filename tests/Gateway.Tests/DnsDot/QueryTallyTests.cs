using System.Diagnostics.Metrics;
using Gateway.Plugins.DnsDot;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Sdk.Handlers;

namespace Gateway.Tests.DnsDot;

/// <summary>Counts deferred to the end of a datagram batch: dns.queries and dns.cache.hits / misses.</summary>
public sealed class QueryTallyTests
{
    [Fact]
    public void CountCache_InsideBatch_AddedOnceWhenTheBatchEnds()
    {
        using var meter = new Meter("tally-test-" + Guid.NewGuid());
        var metrics = new DnsDotMetrics(meter);
        using var listener = Listen(meter, out List<(string Name, long Value)> seen);

        using (DatagramBatch.Open())
        {
            QueryTally.CountCache(metrics, hit: true);
            QueryTally.CountCache(metrics, hit: true);
            QueryTally.CountCache(metrics, hit: false);
            QueryTally.Count(metrics, DnsTransport.Udp, 0);
            QueryTally.Count(metrics, DnsTransport.Udp, 0);
            Assert.Empty(seen);
        }

        Assert.Equal([("dns.cache.hits", 2L)], seen.Where(m => m.Name == "dns.cache.hits"));
        Assert.Equal([("dns.cache.misses", 1L)], seen.Where(m => m.Name == "dns.cache.misses"));
        Assert.Equal([("dns.queries", 2L)], seen.Where(m => m.Name == "dns.queries"));
    }

    [Fact]
    public void CountCache_OutsideBatch_AddedAtOnce()
    {
        using var meter = new Meter("tally-test-" + Guid.NewGuid());
        var metrics = new DnsDotMetrics(meter);
        using var listener = Listen(meter, out List<(string Name, long Value)> seen);

        QueryTally.CountCache(metrics, hit: true);
        Assert.Equal([("dns.cache.hits", 1L)], seen);
        QueryTally.CountCache(metrics, hit: false);
        Assert.Equal(("dns.cache.misses", 1L), seen[^1]);
    }

    private static MeterListener Listen(Meter meter, out List<(string Name, long Value)> seen)
    {
        var measurements = new List<(string Name, long Value)>();
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => measurements.Add((instrument.Name, value)));
        listener.Start();
        seen = measurements;
        return listener;
    }
}
