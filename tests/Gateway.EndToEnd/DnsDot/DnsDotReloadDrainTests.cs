using Gateway.EndToEnd.Infrastructure;
using Gateway.Plugins.DnsDot.Upstreams;
using Microsoft.Extensions.Configuration;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>Two unbound DoT servers serving different addresses for the same name (switch.test).</summary>
public sealed class SwitchUpstreamsFixture : IAsyncLifetime
{
    public UnboundDot First { get; private set; } = null!;

    public UnboundDot Second { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        First = await UnboundDot.StartAsync(["switch.test. 300 IN A 10.0.0.11"]);
        Second = await UnboundDot.StartAsync(["switch.test. 300 IN A 10.0.0.22"]);
    }

    public async Task DisposeAsync()
    {
        await First.DisposeAsync();
        await Second.DisposeAsync();
    }

    /// <summary>The address in an A answer for switch.test ("10.0.0.11" or "10.0.0.22"), or the rcode when there is none.</summary>
    public static string Answer(byte[]? response)
    {
        if (response is null)
        {
            return "no answer";
        }

        if (DnsDotClient.Rcode(response) != 0)
        {
            return $"rcode {DnsDotClient.Rcode(response)}";
        }

        foreach (byte last in new byte[] { 11, 22 })
        {
            byte[] address = [10, 0, 0, last];
            if (response.AsSpan().IndexOf(address) >= 0)
            {
                return $"10.0.0.{last}";
            }
        }

        return "other answer";
    }
}

/// <summary>
/// The dns-dot plugin in-process with a live configuration: a reload that replaces the upstream drains and
/// closes the old pool; a reload that changes only the policy keeps the pool and its warm connections.
/// </summary>
public sealed class DnsDotReloadDrainTests : IClassFixture<SwitchUpstreamsFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly SwitchUpstreamsFixture _upstreams;

    public DnsDotReloadDrainTests(SwitchUpstreamsFixture upstreams) => _upstreams = upstreams;

    [Fact]
    public async Task Reload_UpstreamReplaced_NewAnswersAndOldPoolDrainedThenClosed()
    {
        // The first upstream behind a relay that can make it slow: a query is in flight on it when the reload comes.
        using var slow = new DelayRelay(System.Net.IPEndPoint.Parse(_upstreams.First.Address));
        await using DnsDotUnboundTests.RunningPlugin gw = await DnsDotUnboundTests.StartPluginAsync(new Dictionary<string, string?>
        {
            ["upstreams:0:address"] = slow.Address,
            ["upstreams:0:tlsName"] = UnboundDot.TlsName,
            ["upstreams:0:caFile"] = _upstreams.First.CaFile,
            ["cache:enabled"] = "false",
        });
        Assert.Equal("10.0.0.11", await AskAsync(gw.Port));
        DnsUpstream old = gw.Plugin.Upstreams[0];
        Assert.True(old.OpenConnections > 0);

        slow.Delay = TimeSpan.FromMilliseconds(1000);
        Task<string> inFlight = AskAsync(gw.Port);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (old.Outstanding == 0)
        {
            Assert.True(waited.Elapsed < Deadline, "the query never reached the old upstream");
            await Task.Delay(10);
        }

        IConfiguration config = gw.Context.Configuration;
        config["upstreams:0:address"] = _upstreams.Second.Address;
        config["upstreams:0:caFile"] = _upstreams.Second.CaFile;
        ((IConfigurationRoot)config).Reload();
        await gw.Plugin.LastReload.WaitAsync(Deadline);
        Assert.NotSame(old, gw.Plugin.Upstreams[0]);
        Assert.Equal(1, old.Outstanding);
        Assert.Equal(1, gw.Plugin.DrainingCount);

        // New queries go to the new upstream at once; the one in flight is answered by the old one (drained, not cut).
        Assert.Equal("10.0.0.22", await AskAsync(gw.Port));
        Assert.Equal("10.0.0.11", await inFlight);
        Assert.Contains(gw.Context.Logs, l => l.Contains($"dns-dot: configuration reloaded (upstreams +{_upstreams.Second.Address} -{slow.Address})"));

        // Drain: the old query timeout (3 s) plus a margin; then its connections are closed for good.
        while (!(old.IsClosed && old.OpenConnections == 0 && gw.Plugin.DrainingCount == 0))
        {
            Assert.True(waited.Elapsed < Deadline, $"the replaced upstream's pool is not closed after {Deadline.TotalSeconds} s ({old.OpenConnections} connections)");
            await Task.Delay(100);
        }

        Assert.Equal(0, old.Outstanding);
        Assert.Equal("10.0.0.22", await AskAsync(gw.Port));
    }

    [Fact]
    public async Task Reload_PolicyOnly_KeepsThePoolAndItsConnections()
    {
        await using DnsDotUnboundTests.RunningPlugin gw = await StartOnFirstAsync(("cache:enabled", "false"));
        Assert.Equal("10.0.0.11", await AskAsync(gw.Port));
        DnsUpstream upstream = gw.Plugin.Upstreams[0];
        long opened = upstream.HistoricalConnections;

        gw.Context.Configuration["policy"] = "failover";
        ((IConfigurationRoot)gw.Context.Configuration).Reload();
        await gw.Plugin.LastReload.WaitAsync(Deadline);

        Assert.Equal("10.0.0.11", await AskAsync(gw.Port));
        Assert.Same(upstream, gw.Plugin.Upstreams[0]);
        Assert.Equal(opened, upstream.HistoricalConnections);
        Assert.False(upstream.IsClosed);
        Assert.Contains(gw.Context.Logs, l => l.Contains("dns-dot: configuration reloaded (upstreams policy leastOutstanding -> failover)"));
    }

    [Fact]
    public async Task Reload_CaFileWithoutCertificate_KeepsRunningStateAndSaysWhy()
    {
        await using DnsDotUnboundTests.RunningPlugin gw = await StartOnFirstAsync(("cache:enabled", "false"));
        Assert.Equal("10.0.0.11", await AskAsync(gw.Port));
        DnsUpstream upstream = gw.Plugin.Upstreams[0];
        string garbage = Path.Combine(Path.GetTempPath(), $"not-a-ca-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(garbage, "not a certificate\n");
        try
        {
            gw.Context.Configuration["upstreams:0:address"] = _upstreams.Second.Address;
            gw.Context.Configuration["upstreams:0:caFile"] = garbage;
            ((IConfigurationRoot)gw.Context.Configuration).Reload();
            await gw.Plugin.LastReload.WaitAsync(Deadline);
        }
        finally
        {
            File.Delete(garbage);
        }

        Assert.Contains(gw.Context.Logs, l => l.Contains("configuration reload not applied") && l.Contains("holds no PEM certificate"));
        Assert.Equal("10.0.0.11", await AskAsync(gw.Port));
        Assert.Same(upstream, gw.Plugin.Upstreams[0]);
        Assert.Equal(0, gw.Plugin.DrainingCount);
    }

    [Fact]
    public async Task Reload_RulesAddedThenRemoved_EngineStartedThenStopped()
    {
        string folder = $"reload-rules-{Guid.NewGuid():N}";
        string directory = Path.Combine(Path.GetTempPath(), folder);
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "main.csx"), "Block(\"switch.test\");\n");
        try
        {
            await using DnsDotUnboundTests.RunningPlugin gw = await StartOnFirstAsync();
            Assert.Equal("10.0.0.11", await AskAsync(gw.Port));
            DnsUpstream upstream = gw.Plugin.Upstreams[0];

            gw.Context.Configuration["rules:0"] = $"{folder}/*.csx";
            ((IConfigurationRoot)gw.Context.Configuration).Reload();
            await gw.Plugin.LastReload.WaitAsync(TimeSpan.FromSeconds(120));
            Assert.Equal("rcode 3", await AskAsync(gw.Port));

            // The in-memory provider cannot delete a key: an emptied entry is no glob (as an emptied override is).
            gw.Context.Configuration["rules:0"] = null;
            ((IConfigurationRoot)gw.Context.Configuration).Reload();
            await gw.Plugin.LastReload.WaitAsync(Deadline);
            Assert.Equal("10.0.0.11", await AskAsync(gw.Port));
            Assert.Same(upstream, gw.Plugin.Upstreams[0]);
            Assert.Equal(2, gw.Context.Logs.Count(l => l.Contains("dns-dot: configuration reloaded (rules)")));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    // The plugin started on the first upstream (unbound answering 10.0.0.11), with extra settings.
    private Task<DnsDotUnboundTests.RunningPlugin> StartOnFirstAsync(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["upstreams:0:address"] = _upstreams.First.Address,
            ["upstreams:0:tlsName"] = UnboundDot.TlsName,
            ["upstreams:0:caFile"] = _upstreams.First.CaFile,
        };
        foreach ((string key, string value) in extra)
        {
            settings[key] = value;
        }

        return DnsDotUnboundTests.StartPluginAsync(settings);
    }

    private static async Task<string> AskAsync(int port) =>
        SwitchUpstreamsFixture.Answer(await DnsDotClient.UdpAsync(port, DnsDotClient.Query("switch.test", 1, (ushort)Random.Shared.Next(1, 65535)), TimeSpan.FromSeconds(10)));
}
