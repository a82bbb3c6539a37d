using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Gateway.EndToEnd.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>
/// The published gateway with its gateway.yaml rewritten while it runs: dns-dot applies the new upstreams and
/// cache settings live (no plugin restart), and queries in a loop keep getting answers through the switch.
/// </summary>
public sealed class DnsDotReloadTests : IClassFixture<SwitchUpstreamsFixture>
{
    private const int LoadClients = 2;
    private const int MinQueriesPerClient = 100;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly SwitchUpstreamsFixture _upstreams;
    private readonly ITestOutputHelper _output;

    public DnsDotReloadTests(SwitchUpstreamsFixture upstreams, ITestOutputHelper output)
    {
        _upstreams = upstreams;
        _output = output;
    }

    [Fact]
    public async Task EditConfig_UpstreamSwitchedToOtherServer_AnswersSwitchWithoutRestartOrFailedQueries()
    {
        int port = FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(Config(port, _upstreams.First, cache: true));
        Assert.Equal("10.0.0.11", await AskAsync(port));

        using var stop = new CancellationTokenSource();
        var answered = new StrongBox<int>();
        Task<LoadResult>[] load = [.. Enumerable.Range(0, LoadClients).Select(_ => Task.Run(() => LoadAsync(port, answered, stop.Token)))];
        try
        {
            // The edit lands while every client is querying: wait until each has had answers, not for a fixed time.
            var warming = Stopwatch.StartNew();
            while (Volatile.Read(ref answered.Value) < LoadClients * 20)
            {
                Assert.True(warming.Elapsed < Deadline, $"the load did not get going: {Volatile.Read(ref answered.Value)} answers");
                await Task.Delay(10);
            }

            await WriteConfigAsync(gateway, Config(port, _upstreams.Second, cache: true));
            var switching = Stopwatch.StartNew();
            while (await AskAsync(port) != "10.0.0.22")
            {
                Assert.True(switching.Elapsed < Deadline, $"answers did not switch within {Deadline.TotalSeconds} s: {gateway.Output}");
                await Task.Delay(50);
            }

            _output.WriteLine($"answers switched {switching.ElapsedMilliseconds} ms after the write");

            // Past the old pool's drain (query timeout + 1 s): its connections close under the load.
            await gateway.WaitForOutputAsync("removed by a reload", Deadline);
            int closedAt = Volatile.Read(ref answered.Value);
            var after = Stopwatch.StartNew();
            while (Volatile.Read(ref answered.Value) < closedAt + (LoadClients * 50))
            {
                Assert.True(after.Elapsed < Deadline, "the load stalled after the old pool closed");
                await Task.Delay(10);
            }
        }
        finally
        {
            await stop.CancelAsync();
        }

        LoadResult[] results = await Task.WhenAll(load);
        int sent = results.Sum(r => r.Sent);
        int failed = results.Sum(r => r.Failed);
        _output.WriteLine($"load: {sent} queries from {LoadClients} clients, {failed} failed");
        Assert.True(failed == 0, $"{failed} of {sent} queries failed: {results.FirstOrDefault(r => r.FirstFailure is not null)?.FirstFailure}");
        Assert.All(results, r => Assert.True(r.SawSecond && !r.FirstAfterSecond, $"a client saw {(r.SawSecond ? "the old answer after the new one" : "no new answer")}"));
        Assert.Contains($"dns-dot: configuration reloaded (upstreams +{_upstreams.Second.Address} -{_upstreams.First.Address})", gateway.Output);
        Assert.DoesNotContain("restarting it", gateway.Output);
        Assert.False(gateway.HasExited, gateway.Output);
    }

    [Fact]
    public async Task EditConfig_CacheDisabledOnly_AppliedLiveAndUpstreamKept()
    {
        await using UnboundDot upstream = await UnboundDot.StartAsync(["switch.test. 300 IN A 10.0.0.11"]);
        int port = FreePort();
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(Config(port, upstream, cache: true));
        Assert.Equal("10.0.0.11", await AskAsync(port));

        // The cache is on: with the upstream down the cached answer still comes back.
        await upstream.StopAsync();
        Assert.Equal("10.0.0.11", await AskAsync(port));
        await upstream.RestartAsync();

        await WriteConfigAsync(gateway, Config(port, upstream, cache: false));
        await gateway.WaitForOutputAsync("dns-dot: configuration reloaded (cache disabled)", Deadline);
        var waited = Stopwatch.StartNew();
        while (await AskAsync(port) != "10.0.0.11")
        {
            Assert.True(waited.Elapsed < Deadline, $"no answer from the restarted upstream within {Deadline.TotalSeconds} s: {gateway.Output}");
            await Task.Delay(200);
        }

        // The cache is off: with the upstream down nothing is served from it.
        await upstream.StopAsync();
        Assert.Equal("rcode 2", await AskAsync(port));
        Assert.DoesNotContain("removed by a reload", gateway.Output);
        Assert.DoesNotContain("restarting it", gateway.Output);
        Assert.False(gateway.HasExited, gateway.Output);
    }

    private static string Config(int port, UnboundDot upstream, bool cache) => $$"""
        dns-dot:
          listen: ["127.0.0.1:{{port}}"]
          upstreams:
            - { address: "{{upstream.Address}}", tlsName: "{{UnboundDot.TlsName}}", caFile: "{{upstream.CaFile}}" }
          cache: { enabled: {{(cache ? "true" : "false")}} }
        """;

    // An editor's save: a temp file renamed over the config (the host debounces and validates it in full).
    private static async Task WriteConfigAsync(GatewayProcess gateway, string yaml)
    {
        string temp = gateway.ConfigPath + ".tmp";
        await File.WriteAllTextAsync(temp, yaml);
        File.Move(temp, gateway.ConfigPath, overwrite: true);
    }

    private static async Task<string> AskAsync(int port) =>
        SwitchUpstreamsFixture.Answer(await DnsDotClient.UdpAsync(port, DnsDotClient.Query("switch.test", 1, (ushort)Random.Shared.Next(1, 65535)), TimeSpan.FromSeconds(10)));

    private sealed record LoadResult(int Sent, int Failed, string? FirstFailure, bool SawSecond, bool FirstAfterSecond);

    /// <summary>
    /// Queries switch.test one after another (bounded) until stopped and at least <see cref="MinQueriesPerClient"/>
    /// were sent. A query fails when nothing comes back within 5 s or anything but an A answer comes back.
    /// </summary>
    private static async Task<LoadResult> LoadAsync(int port, StrongBox<int> answered, CancellationToken stop)
    {
        const int MaxQueries = 20000;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        byte[] buffer = new byte[4096];
        int sent = 0;
        int failed = 0;
        string? first = null;
        bool sawSecond = false;
        bool firstAfterSecond = false;
        while ((!stop.IsCancellationRequested || sent < MinQueriesPerClient) && sent < MaxQueries)
        {
            ushort id = (ushort)(sent + 1);
            await socket.SendAsync(DnsDotClient.Query("switch.test", 1, id));
            sent++;
            string answer;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                while (true)
                {
                    int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                    if (n >= 12 && DnsDotClient.Id(buffer) == id)
                    {
                        answer = SwitchUpstreamsFixture.Answer(buffer[..n]);
                        break;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                answer = "no answer within 5 s";
            }

            Interlocked.Increment(ref answered.Value);
            if (answer == "10.0.0.22")
            {
                sawSecond = true;
            }
            else if (answer == "10.0.0.11")
            {
                firstAfterSecond |= sawSecond;
            }
            else
            {
                failed++;
                first ??= answer;
            }

            // Leaves the gateway's reload some of the 2 cores.
            await Task.Delay(1, CancellationToken.None);
        }

        return new LoadResult(sent, failed, first, sawSecond, firstAfterSecond);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
