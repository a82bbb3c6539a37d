using System.Diagnostics.Metrics;
using Gateway.Plugins.DnsDot;
using Gateway.Plugins.DnsDot.Cache;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.DnsDot;

/// <summary>The reload rebuild: what a new configuration keeps (pools, groups, cache) and what it retires.</summary>
public sealed class ResolverSnapshotBuilderTests : IDisposable
{
    private static readonly Action<System.Net.Sockets.Socket> Protect = static _ => { };
    private readonly Meter _meter = new("test.reload");
    private readonly DnsDotMetrics _metrics;
    private readonly string _directory = Directory.CreateTempSubdirectory("dns-reload").FullName;

    public ResolverSnapshotBuilderTests() => _metrics = new DnsDotMetrics(_meter);

    public void Dispose()
    {
        _meter.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private static DnsDotOptions Options(params string[] addresses)
    {
        var options = new DnsDotOptions();
        foreach (string address in addresses)
        {
            options.Upstreams.Add(new UpstreamOptions { Address = address, TlsName = "upstream.test" });
        }

        return options;
    }

    private SnapshotBuild Build(DnsDotOptions options, ResolverSnapshot? previous = null) =>
        ResolverSnapshotBuilder.Build(options, previous, _directory, Protect, null, _metrics, NullLogger.Instance);

    [Fact]
    public void Build_SameOptions_KeepsUpstreamsGroupAndCache()
    {
        ResolverSnapshot first = Build(Options("127.0.0.1:8531", "127.0.0.1:8532")).Snapshot;

        SnapshotBuild second = Build(Options("127.0.0.1:8531", "127.0.0.1:8532"), first);

        Assert.Equal(first.Upstreams, second.Snapshot.Upstreams);
        Assert.Same(first.DefaultGroup, second.Snapshot.DefaultGroup);
        Assert.Same(first.Cache, second.Snapshot.Cache);
        Assert.Empty(second.Created);
        Assert.Empty(second.Retired);
        Assert.Empty(second.Changes);
    }

    [Fact]
    public void Build_OneUpstreamReplaced_KeepsTheOtherPoolAndRetiresTheRemovedOne()
    {
        ResolverSnapshot first = Build(Options("127.0.0.1:8531", "127.0.0.1:8532")).Snapshot;

        SnapshotBuild second = Build(Options("127.0.0.1:8531", "127.0.0.1:8533"), first);

        Assert.Same(first.Upstreams[0], second.Snapshot.Upstreams[0]);
        Assert.Equal("127.0.0.1:8533", Assert.Single(second.Created).Name);
        Assert.Same(first.Upstreams[1], Assert.Single(second.Retired));

        // Another upstream set may answer differently: nothing cached for the old set is served.
        Assert.NotEqual(first.DefaultGroup.CacheId, second.Snapshot.DefaultGroup.CacheId);
        Assert.Same(first.Cache, second.Snapshot.Cache);
        Assert.Contains("upstreams +127.0.0.1:8533 -127.0.0.1:8532", second.Changes);
    }

    [Theory]
    [InlineData("tlsName")]
    [InlineData("spkiPins")]
    [InlineData("readTimeoutMs")]
    [InlineData("upstreamMaxConnections")]
    public void Build_UpstreamOptionChanged_RebuildsThePool(string key)
    {
        ResolverSnapshot first = Build(Options("127.0.0.1:8531")).Snapshot;
        DnsDotOptions changed = Options("127.0.0.1:8531");
        switch (key)
        {
            case "tlsName":
                changed.Upstreams[0].TlsName = "other.test";
                break;
            case "spkiPins":
                changed.Upstreams[0].SpkiPins.Add(Convert.ToBase64String(new byte[32]));
                break;
            case "readTimeoutMs":
                changed.ReadTimeoutMs = 900;
                break;
            default:
                changed.UpstreamMaxConnections = 2;
                break;
        }

        SnapshotBuild second = Build(changed, first);

        Assert.NotSame(first.Upstreams[0], second.Snapshot.Upstreams[0]);
        Assert.Same(first.Upstreams[0], Assert.Single(second.Retired));
        Assert.NotEmpty(second.Changes);
    }

    [Fact]
    public void Build_CaFileContentReplaced_RebuildsTheUpstream()
    {
        string ca = Path.Combine(_directory, "ca.pem");
        File.WriteAllText(ca, TestPem("first"));
        DnsDotOptions options = Options("127.0.0.1:8531");
        options.Upstreams[0].CaFile = "ca.pem";
        ResolverSnapshot first = Build(options).Snapshot;
        SnapshotBuild same = Build(options, first);
        File.WriteAllText(ca, TestPem("second"));

        SnapshotBuild replaced = Build(options, same.Snapshot);

        Assert.Empty(same.Retired);
        Assert.Same(first.Upstreams[0], Assert.Single(replaced.Retired));
    }

    [Fact]
    public void Build_PolicyOnlyChanged_KeepsPoolsAndCachedAnswers()
    {
        ResolverSnapshot first = Build(Options("127.0.0.1:8531", "127.0.0.1:8532")).Snapshot;
        DnsDotOptions changed = Options("127.0.0.1:8531", "127.0.0.1:8532");
        changed.Policy = "failover";

        SnapshotBuild second = Build(changed, first);

        Assert.Equal(first.Upstreams, second.Snapshot.Upstreams);
        Assert.Equal("failover", second.Snapshot.DefaultGroup.Policy.Name);
        Assert.Equal(first.DefaultGroup.CacheId, second.Snapshot.DefaultGroup.CacheId);
        Assert.Empty(second.Retired);
    }

    [Fact]
    public void Build_CacheOptionsChanged_NewEmptyCache()
    {
        ResolverSnapshot first = Build(Options("127.0.0.1:8531")).Snapshot;
        DnsDotOptions changed = Options("127.0.0.1:8531");
        changed.Cache.MaxTtl = 60;

        SnapshotBuild second = Build(changed, first);

        Assert.NotNull(second.Snapshot.Cache);
        Assert.NotSame(first.Cache, second.Snapshot.Cache);
        Assert.Same(first.Upstreams[0], second.Snapshot.Upstreams[0]);
    }

    [Fact]
    public void Build_CacheDisabledThenEnabled_NoCacheThenNewOne()
    {
        ResolverSnapshot first = Build(Options("127.0.0.1:8531")).Snapshot;
        DnsDotOptions disabled = Options("127.0.0.1:8531");
        disabled.Cache.Enabled = false;

        ResolverSnapshot second = Build(disabled, first).Snapshot;
        SnapshotBuild third = Build(Options("127.0.0.1:8531"), second);

        Assert.Null(second.Cache);
        Assert.NotNull(third.Snapshot.Cache);
        Assert.Contains("cache enabled", third.Changes);
    }

    [Fact]
    public void Build_GroupRemoved_RetiresItsUpstreams()
    {
        DnsDotOptions options = Options("127.0.0.1:8531");
        options.Groups["corp"] = new UpstreamGroupOptions { Upstreams = [new UpstreamOptions { Address = "127.0.0.1:8534", TlsName = "corp.test" }] };
        ResolverSnapshot first = Build(options).Snapshot;

        SnapshotBuild second = Build(Options("127.0.0.1:8531"), first);

        Assert.Same(first.Groups["corp"].Upstreams[0], Assert.Single(second.Retired));
        Assert.False(second.Snapshot.Groups.ContainsKey("corp"));
        Assert.Contains("group corp removed", second.Changes);
    }

    [Fact]
    public void Build_UnreadableCaFile_Throws()
    {
        ResolverSnapshot first = Build(Options("127.0.0.1:8531")).Snapshot;
        DnsDotOptions changed = Options("127.0.0.1:8531");
        changed.Upstreams[0].CaFile = "missing.pem";

        Assert.ThrowsAny<IOException>(() => Build(changed, first));
    }

    [Fact]
    public void Swap_NewSnapshot_NextQueryUsesItAndKeepsRules()
    {
        SnapshotBuild first = Build(Options("127.0.0.1:8531"));
        ResolverSnapshot s = first.Snapshot;
        var resolver = new DnsResolver(s.Options, s.DefaultGroup, s.Groups, s.Cache, _metrics, NullLogger.Instance) { Rules = new RefuseAll() };
        ResolverSnapshot rebuilt = Build(Options("127.0.0.1:8533"), resolver.Snapshot).Snapshot;

        resolver.Swap(rebuilt, replaceRules: false);
        byte[] answer = new byte[DnsResolver.MaxMessageSize];
        resolver.Rules = null;
        ResolveStep step = resolver.Begin(DnsTestMessages.Query("a.test", 1), NetAddress.Parse("192.0.2.7"), DnsTransport.Udp, 1232, answer, out _, out PendingQuery pending);

        Assert.Equal(ResolveStep.Upstream, step);
        Assert.Same(rebuilt.DefaultGroup, pending.Group);
        Assert.Same(rebuilt.Cache, resolver.Cache);
    }

    [Fact]
    public void Swap_KeepRules_CarriesTheRunningRulesOver()
    {
        ResolverSnapshot s = Build(Options("127.0.0.1:8531")).Snapshot;
        var resolver = new DnsResolver(s.Options, s.DefaultGroup, s.Groups, s.Cache, _metrics, NullLogger.Instance) { Rules = new RefuseAll() };
        ResolverSnapshot rebuilt = Build(Options("127.0.0.1:8533"), resolver.Snapshot).Snapshot.WithRules(null);

        resolver.Swap(rebuilt, replaceRules: false);
        byte[] answer = new byte[DnsResolver.MaxMessageSize];
        ResolveStep step = resolver.Begin(DnsTestMessages.Query("a.test", 1), NetAddress.Parse("192.0.2.7"), DnsTransport.Udp, 1232, answer, out int length, out _);

        Assert.Equal(ResolveStep.Answered, step);
        Assert.Equal(5, answer[3] & 0x0F);
        Assert.True(length > 12);
    }

    [Fact]
    public async Task ResolveUpstream_RetiredAndClosedPool_ServFailAtOnce()
    {
        DnsDotOptions options = Options("127.0.0.1:8531");
        options.QueryTimeoutMs = 60_000;
        ResolverSnapshot s = Build(options).Snapshot;
        var resolver = new DnsResolver(s.Options, s.DefaultGroup, s.Groups, s.Cache, _metrics, NullLogger.Instance);
        s.Upstreams[0].Close("removed by a configuration reload");
        byte[] query = DnsTestMessages.Query("a.test", 1, id: 77);
        byte[] scratch = new byte[DnsResolver.MaxMessageSize];
        Assert.Equal(ResolveStep.Upstream, resolver.Begin(query, NetAddress.Parse("192.0.2.7"), DnsTransport.Tcp, 65535, scratch, out _, out PendingQuery pending));

        // Well within the 60 s query timeout: a closed pool fails the query, it does not hold it.
        Task<UpstreamAnswer> resolving = resolver.ResolveUpstreamAsync(query, pending, CancellationToken.None);
        UpstreamAnswer answer = await resolving.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(s.Upstreams[0].IsClosed);
        Assert.Equal(2, answer.Buffer[3] & 0x0F);
        Assert.Equal(77, (answer.Buffer[0] << 8) | answer.Buffer[1]);
        answer.Release();
    }

    // A self-signed certificate in PEM (content differs per subject).
    private static string TestPem(string subject)
    {
        using var key = System.Security.Cryptography.ECDsa.Create();
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest($"CN={subject}", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return certificate.ExportCertificatePem();
    }

    private sealed class RefuseAll : IRuleEvaluator
    {
        public Verdict Evaluate(DnsQuery query) => Verdict.Refused;
    }
}
