using Gateway.EndToEnd.Infrastructure;
using Gateway.Plugins.DnsDot.Upstreams;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>Two real unbound upstreams; one is killed under load and comes back.</summary>
public sealed class DnsDotFailoverTests
{
    [Fact]
    public async Task TwoUpstreams_OneKilledUnderLoad_BoundedLossAndBackInService()
    {
        await using UnboundDot first = await UnboundDot.StartAsync();
        await using UnboundDot second = await UnboundDot.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["upstreams:0:address"] = first.Address,
            ["upstreams:0:tlsName"] = UnboundDot.TlsName,
            ["upstreams:0:caFile"] = first.CaFile,
            ["upstreams:1:address"] = second.Address,
            ["upstreams:1:tlsName"] = UnboundDot.TlsName,
            ["upstreams:1:caFile"] = second.CaFile,
            ["policy"] = "roundRobin",
            ["cache:enabled"] = "false",
        };
        await using DnsDotUnboundTests.RunningPlugin gw = await DnsDotUnboundTests.StartPluginAsync(settings);
        DnsUpstream killed = gw.Plugin.Upstreams[0];

        int sent = 0;
        int lost = 0;
        using var load = new CancellationTokenSource();
        async Task WorkerAsync(int worker)
        {
            for (ushort i = 0; !load.IsCancellationRequested; i++)
            {
                byte[]? answer = await DnsDotClient.UdpAsync(gw.Port, DnsDotClient.Query("a.test", 1, i), TimeSpan.FromSeconds(5));
                Interlocked.Increment(ref sent);
                if (answer is null || DnsDotClient.Rcode(answer) != 0)
                {
                    Interlocked.Increment(ref lost);
                }
            }
        }

        Task[] workers = Enumerable.Range(0, 8).Select(w => Task.Run(() => WorkerAsync(w))).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(2));
        await first.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(4));
        long answeredBeforeReturn = killed.Answered;
        await first.RestartAsync();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(40);
        while (killed.Answered <= answeredBeforeReturn + 10 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        await load.CancelAsync();
        await Task.WhenAll(workers);

        Assert.True(sent > 100, $"only {sent} queries were sent");
        // In-flight queries on the killed connection are retried once on the other upstream: a handful may
        // still be lost while the kill is being noticed, never a steady fraction.
        Assert.True(lost <= Math.Max(16, sent / 50), $"{lost} of {sent} queries lost");
        Assert.True(killed.Answered > answeredBeforeReturn + 10, $"the restarted upstream answered only {killed.Answered - answeredBeforeReturn} queries after it returned");
    }
}
