using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.DnsDot.Filtering;

/// <summary>An unbound DoT upstream that knows "outside.test" (so a local CNAME can lead out of local data).</summary>
public sealed class LocalRecordsUpstreamFixture : IAsyncLifetime
{
    public UnboundDot Upstream { get; private set; } = null!;

    public async Task InitializeAsync() => Upstream = await UnboundDot.StartAsync(["outside.test. 300 IN A 10.7.7.7", "nas.home.test. 300 IN A 10.6.6.6"]);

    public async Task DisposeAsync() => await Upstream.DisposeAsync();
}

/// <summary>
/// <c>records:</c> in the published gateway, checked with kdig as issue 16 lists: A, AAAA, a CNAME chain into local
/// data, the automatic PTR of a local A, SRV, a wildcard, NODATA for a missing type, all authoritative (aa).
/// </summary>
public sealed class LocalRecordsTests : IClassFixture<LocalRecordsUpstreamFixture>, IAsyncLifetime
{
    private readonly LocalRecordsUpstreamFixture _fixture;
    private GatewayProcess _gateway = null!;
    private int _port;

    public LocalRecordsTests(LocalRecordsUpstreamFixture fixture) => _fixture = fixture;

    public async Task InitializeAsync()
    {
        _port = Kdig.FreePort();
        _gateway = await GatewayProcess.StartAsync($"""
            dns-dot:
              listen: ["127.0.0.1:{_port}"]
              upstreams: [{Kdig.Upstream(_fixture.Upstream)}]
              records:
                - "nas.home.test 300 A 192.168.1.10"
                - "nas.home.test. IN 300 AAAA fd00::10"
                - "files.home.test CNAME www.home.test"
                - "www.home.test 60 CNAME nas.home.test."
                - "*.dev.home.test A 192.168.1.20"
                - "_http._tcp.home.test SRV 0 5 80 nas.home.test"
                - 'home.test TXT "v=spf1 -all"'
                - "home.test MX 10 mail.home.test"
                - "away.home.test CNAME outside.test"
            """);
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task Kdig_LocalA_AnsweredAuthoritatively()
    {
        string output = await Kdig.QueryAsync(_port, "nas.home.test", "A");
        Assert.Contains("status: NOERROR", output);
        Assert.Matches(@";; Flags: qr aa", output);
        Assert.Matches(@"nas\.home\.test\.\s+300\s+IN\s+A\s+192\.168\.1\.10", output);

        // Local data wins over the upstream, which says 10.6.6.6 for the same name.
        Assert.DoesNotContain("10.6.6.6", output);
    }

    [Fact]
    public async Task Kdig_LocalAaaa_Answered() =>
        Assert.Equal(["fd00::10"], await Kdig.ShortAsync(_port, "nas.home.test", "AAAA"));

    [Fact]
    public async Task Kdig_CnameChainIntoLocalData_WholeChainInOneAnswer()
    {
        string output = await Kdig.QueryAsync(_port, "files.home.test", "A");
        Assert.Matches(@"files\.home\.test\.\s+\d+\s+IN\s+CNAME\s+www\.home\.test\.", output);
        Assert.Matches(@"www\.home\.test\.\s+60\s+IN\s+CNAME\s+nas\.home\.test\.", output);
        Assert.Matches(@"nas\.home\.test\.\s+300\s+IN\s+A\s+192\.168\.1\.10", output);
    }

    [Fact]
    public async Task Kdig_PtrOfLocalA_NamesTheHost() =>
        Assert.Equal(["nas.home.test."], await Kdig.ShortAsync(_port, "10.1.168.192.in-addr.arpa", "PTR"));

    [Fact]
    public async Task Kdig_ReverseLookupWithX_NamesTheHost() =>
        Assert.Equal(["nas.home.test."], await Kdig.ShortAsync(_port, "-x", "192.168.1.10"));

    [Fact]
    public async Task Kdig_Srv_PriorityWeightPortTarget() =>
        Assert.Equal(["0 5 80 nas.home.test."], await Kdig.ShortAsync(_port, "_http._tcp.home.test", "SRV"));

    [Fact]
    public async Task Kdig_Wildcard_AnswersAnyNameBelowItsParent()
    {
        Assert.Equal(["192.168.1.20"], await Kdig.ShortAsync(_port, "anything.dev.home.test", "A"));
        Assert.Equal(["192.168.1.20"], await Kdig.ShortAsync(_port, "a.b.dev.home.test", "A"));
    }

    [Fact]
    public async Task Kdig_MissingTypeOfLocalName_NoData()
    {
        string output = await Kdig.QueryAsync(_port, "nas.home.test", "TXT");
        Assert.Contains("status: NOERROR", output);
        Assert.Matches(@";; Flags: qr aa", output);
        Assert.Contains("ANSWER: 0", output);
    }

    [Fact]
    public async Task Kdig_TxtAndMx_Answered()
    {
        Assert.Equal(["\"v=spf1 -all\""], await Kdig.ShortAsync(_port, "home.test", "TXT"));
        Assert.Equal(["10 mail.home.test."], await Kdig.ShortAsync(_port, "home.test", "MX", "+tcp"));
    }

    [Fact]
    public async Task Kdig_CnameLeavingLocalData_FollowedUpstream()
    {
        string output = await Kdig.QueryAsync(_port, "away.home.test", "A");
        Assert.Matches(@"away\.home\.test\.\s+\d+\s+IN\s+CNAME\s+outside\.test\.", output);
        Assert.Matches(@"outside\.test\.\s+\d+\s+IN\s+A\s+10\.7\.7\.7", output);
    }

    [Fact]
    public async Task Kdig_NameWithoutLocalData_ForwardedUpstream() =>
        Assert.Equal(["10.0.0.1"], await Kdig.ShortAsync(_port, "a.test", "A"));
}
