using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Gateway.EndToEnd.Infrastructure;
using Gateway.Plugins.DnsDot;
using Gateway.Sdk.Networking;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>One unbound serving DoT, shared by the tests of <see cref="DnsDotUnboundTests"/>.</summary>
public sealed class UnboundDotFixture : IAsyncLifetime
{
    public UnboundDot Unbound { get; private set; } = null!;

    public async Task InitializeAsync() => Unbound = await UnboundDot.StartAsync();

    public async Task DisposeAsync() => await Unbound.DisposeAsync();
}

/// <summary>The dns-dot plugin in-process on loopback sockets, forwarding to a real unbound over DoT; queried with kdig.</summary>
public sealed class DnsDotUnboundTests : IClassFixture<UnboundDotFixture>
{
    private static readonly TimeSpan KdigTimeout = TimeSpan.FromSeconds(30);
    private readonly UnboundDot _unbound;

    public DnsDotUnboundTests(UnboundDotFixture fixture) => _unbound = fixture.Unbound;

    internal sealed class RunningPlugin(DnsDotPlugin plugin, LoopbackPluginContext context, int port) : IAsyncDisposable
    {
        public DnsDotPlugin Plugin { get; } = plugin;

        public LoopbackPluginContext Context { get; } = context;

        public int Port { get; } = port;

        public async ValueTask DisposeAsync()
        {
            await Plugin.StopAsync(CancellationToken.None);
            await Context.DisposeAsync();
        }
    }

    internal static async Task<RunningPlugin> StartPluginAsync(Dictionary<string, string?> settings)
    {
        int port = FreePort();
        var endpoint = new ServiceEndpoint(EndpointKind.HostSocket, new NetEndpoint(NetAddress.Parse("127.0.0.1"), (ushort)port));
        settings[$"listen:0"] = endpoint.Endpoint.ToString();
        var context = new LoopbackPluginContext("dns-dot", settings, [endpoint], Path.GetTempPath());
        var plugin = new DnsDotPlugin();
        await plugin.StartAsync(context, CancellationToken.None);
        return new RunningPlugin(plugin, context, port);
    }

    private Dictionary<string, string?> Upstream(string? tlsName = null, string? caFile = null, string? pin = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["upstreams:0:address"] = _unbound.Address,
            ["upstreams:0:tlsName"] = tlsName ?? UnboundDot.TlsName,
            ["upstreams:0:caFile"] = caFile ?? _unbound.CaFile,
        };
        if (pin is not null)
        {
            settings["upstreams:0:spkiPins:0"] = pin;
        }

        return settings;
    }

    private static async Task<string> KdigAsync(int port, string name, string type, params string[] extra)
    {
        var args = new List<string> { "@127.0.0.1", "-p", port.ToString(), "+time=5", "+retry=0", name, type };
        args.AddRange(extra);
        CommandResult result = await ProcessRunner.RunAsync("kdig", args, KdigTimeout);
        return result.Output;
    }

    [Theory]
    [InlineData("+notcp")]
    [InlineData("+tcp")]
    public async Task Kdig_CommonTypes_RightAnswers(string transport)
    {
        await using RunningPlugin gw = await StartPluginAsync(Upstream());
        string a = await KdigAsync(gw.Port, "a.test", "A", transport);
        Assert.Contains("status: NOERROR", a);
        Assert.Matches(@"a\.test\.\s+\d+\s+IN\s+A\s+10\.0\.0\.1", a);
        Assert.Matches(@"AAAA\s+2001:db8::1", await KdigAsync(gw.Port, "a.test", "AAAA", transport));
        Assert.Matches(@"MX\s+10 a\.test\.", await KdigAsync(gw.Port, "mx.test", "MX", transport));
        Assert.Contains("\"dot peers upstream\"", await KdigAsync(gw.Port, "txt.test", "TXT", transport));
        string chain = await KdigAsync(gw.Port, "c1.test", "A", transport);
        Assert.Matches(@"c1\.test\.\s+\d+\s+IN\s+CNAME\s+c2\.test\.", chain);
        // unbound's local data does not chase the chain itself: the gateway must pass on exactly what it says.
        CommandResult direct = await ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-p", _unbound.Port.ToString(), "+tls", $"+tls-ca={_unbound.CaFile}", $"+tls-hostname={UnboundDot.TlsName}", "+time=5", "+retry=0", "c1.test", "A"], KdigTimeout);
        Assert.Equal(AnswerSection(direct.Output), AnswerSection(chain));
        Assert.Contains("status: NXDOMAIN", await KdigAsync(gw.Port, "nosuch.test", "A", transport));
        // Again, now from the cache: same answers, and the upstream is not asked again.
        long answered = gw.Plugin.Upstreams.Sum(u => u.Answered);
        Assert.Equal(6, answered);
        Assert.Contains("status: NXDOMAIN", await KdigAsync(gw.Port, "nosuch.test", "A", transport));
        Assert.Matches(@"A\s+10\.0\.0\.1", await KdigAsync(gw.Port, "A.TEST", "A", transport));
        Assert.Equal(answered, gw.Plugin.Upstreams.Sum(u => u.Answered));
    }

    [Fact]
    public async Task Kdig_BigTxtOverUdp_TruncatedWithTc()
    {
        await using RunningPlugin gw = await StartPluginAsync(Upstream());
        string output = await KdigAsync(gw.Port, "big.test", "TXT", "+notcp", "+ignore", "+bufsize=1232");
        Assert.Matches(@"Flags: qr [a-z ]*tc", output);
        Assert.DoesNotContain("record01", output);
    }

    [Fact]
    public async Task Kdig_BigTxtOverTcp_Whole()
    {
        await using RunningPlugin gw = await StartPluginAsync(Upstream());
        string output = await KdigAsync(gw.Port, "big.test", "TXT", "+tcp");
        for (int i = 1; i <= 12; i++)
        {
            Assert.Contains($"record{i:D2}-", output);
        }
    }

    [Fact]
    public async Task Tcp_100PipelinedQueries_AllAnsweredMatchedById()
    {
        await using RunningPlugin gw = await StartPluginAsync(Upstream());
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, gw.Port);
        var expected = new Dictionary<ushort, string>();
        var frames = new List<byte>();
        for (int i = 0; i < 100; i++)
        {
            ushort id = (ushort)(1000 + i);
            string name = (i % 3) switch { 0 => "a.test", 1 => $"n{i}.test", _ => "txt.test" };
            expected[id] = name;
            byte[] q = DnsDotClient.Query(name, (ushort)(name == "txt.test" ? 16 : 1), id);
            frames.AddRange([(byte)(q.Length >> 8), (byte)q.Length]);
            frames.AddRange(q);
        }

        await socket.SendAsync(frames.ToArray());
        await using var stream = new NetworkStream(socket);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        byte[] prefix = new byte[2];
        for (int i = 0; i < 100; i++)
        {
            await stream.ReadExactlyAsync(prefix, cts.Token);
            byte[] answer = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
            await stream.ReadExactlyAsync(answer, cts.Token);
            ushort id = DnsDotClient.Id(answer);
            Assert.True(expected.Remove(id, out string? name), $"unexpected or duplicate id {id}");
            Assert.Equal(name, DnsDotClient.QuestionName(answer));
            Assert.Equal(name.StartsWith('n') ? 3 : 0, DnsDotClient.Rcode(answer));
        }

        Assert.Empty(expected);
    }

    [Fact]
    public async Task Upstream_WrongTlsName_ServFailAndOneLogLine()
    {
        await using RunningPlugin gw = await StartPluginAsync(Upstream(tlsName: "wrong.test"));
        await AssertServFailWithOneLogLineAsync(gw, "certificate name mismatch (expected wrong.test)");
    }

    [Fact]
    public async Task Upstream_UntrustedCa_ServFailAndOneLogLine()
    {
        await using RunningPlugin gw = await StartPluginAsync(Upstream(caFile: _unbound.OtherCaFile));
        await AssertServFailWithOneLogLineAsync(gw, "certificate not trusted");
    }

    [Fact]
    public async Task Upstream_PinMismatch_ServFailAndOneLogLine()
    {
        await using RunningPlugin gw = await StartPluginAsync(Upstream(pin: Convert.ToBase64String(new byte[32])));
        await AssertServFailWithOneLogLineAsync(gw, "SPKI pin mismatch");
    }

    [Fact]
    public async Task Upstream_MatchingPin_Answers()
    {
        await using RunningPlugin gw = await StartPluginAsync(Upstream(pin: _unbound.SpkiPin));
        Assert.Matches(@"A\s+10\.0\.0\.1", await KdigAsync(gw.Port, "a.test", "A"));
    }

    private async Task AssertServFailWithOneLogLineAsync(RunningPlugin gw, string reason)
    {
        for (int i = 0; i < 3; i++)
        {
            Assert.Contains("status: SERVFAIL", await KdigAsync(gw.Port, $"q{i}.test", "A"));
        }

        string[] lines = gw.Context.Logs.Where(l => l.Contains(_unbound.Address) && l.Contains("Warning")).ToArray();
        Assert.True(lines.Length == 1, "expected one log line, got:\n" + string.Join("\n", gw.Context.Logs));
        Assert.Contains(reason, lines[0]);
    }

    // The answer section without TTLs (the cache ages them).
    private static string AnswerSection(string kdigOutput)
    {
        int start = kdigOutput.IndexOf(";; ANSWER SECTION:", StringComparison.Ordinal);
        Assert.True(start >= 0, kdigOutput);
        string section = kdigOutput[start..].Split("\n\n")[0];
        return System.Text.RegularExpressions.Regex.Replace(section, @"\s+\d+\s+IN\s+", " IN ");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
