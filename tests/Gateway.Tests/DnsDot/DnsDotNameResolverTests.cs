using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.DnsDot;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Upstreams;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.DnsDot;

public sealed class DnsDotNameResolverTests : IDisposable
{
    private readonly Meter _meter = new("name-resolver-test");

    public void Dispose() => _meter.Dispose();

    /// <summary>Answers like a small zone: a.test A and AAAA, v4only.test A only, gone.test NXDOMAIN, the rest goes upstream.</summary>
    private sealed class Zone : IRuleEvaluator
    {
        public List<(string Name, DnsType Type, DnsTransport Transport, string Client)> Seen { get; } = new();

        public Verdict Evaluate(DnsQuery query)
        {
            lock (Seen)
            {
                Seen.Add((query.Name, query.Type, query.Transport, query.Client.ToString()));
            }

            return query.Name switch
            {
                "a.test" => query.Type == DnsType.A ? Verdict.Answer("10.0.0.1", 60) : Verdict.Answer("2001:db8::1", 60),
                "v4only.test" => query.Type == DnsType.A ? Verdict.Answer("10.0.0.4", 60) : Verdict.Answer("10.0.0.4", 60),
                "gone.test" => Verdict.NxDomain,
                _ => Verdict.Continue,
            };
        }
    }

    private DnsDotNameResolver Create(Zone zone)
    {
        var group = new UpstreamGroup("default", new LeastOutstandingPolicy(), Array.Empty<DnsUpstream>());
        var resolver = new DnsResolver(new DnsDotOptions { QueryTimeoutMs = 500 }, group, new Dictionary<string, UpstreamGroup>(), null, new DnsDotMetrics(_meter), NullLogger.Instance) { Rules = zone };
        return new DnsDotNameResolver(resolver);
    }

    [Fact]
    public async Task ResolveAsync_BothFamilies_ThroughTheRulesIpv6First()
    {
        var zone = new Zone();
        IReadOnlyList<IPAddress> addresses = await Create(zone).ResolveAsync("A.Test.", AddressFamily.Unspecified, CancellationToken.None);
        Assert.Equal([IPAddress.Parse("2001:db8::1"), IPAddress.Parse("10.0.0.1")], addresses);
        Assert.Contains(("a.test", DnsType.A, DnsTransport.Internal, "127.0.0.1"), zone.Seen);
        Assert.Contains(("a.test", DnsType.AAAA, DnsTransport.Internal, "127.0.0.1"), zone.Seen);
    }

    [Fact]
    public async Task ResolveAsync_OneFamily_OnlyThatType()
    {
        var zone = new Zone();
        Assert.Equal([IPAddress.Parse("10.0.0.1")], await Create(zone).ResolveAsync("a.test", AddressFamily.InterNetwork, CancellationToken.None));
        Assert.Equal([IPAddress.Parse("2001:db8::1")], await Create(zone).ResolveAsync("a.test", AddressFamily.InterNetworkV6, CancellationToken.None));
        Assert.Empty(await Create(zone).ResolveAsync("v4only.test", AddressFamily.InterNetworkV6, CancellationToken.None));
    }

    [Fact]
    public async Task ResolveAsync_NxDomain_HostNotFound()
    {
        SocketException e = await Assert.ThrowsAsync<SocketException>(async () => await Create(new Zone()).ResolveAsync("gone.test", AddressFamily.Unspecified, CancellationToken.None));
        Assert.Equal(SocketError.HostNotFound, e.SocketErrorCode);
    }

    [Fact]
    public async Task ResolveAsync_NoUpstreamAnswers_TryAgain()
    {
        SocketException e = await Assert.ThrowsAsync<SocketException>(async () => await Create(new Zone()).ResolveAsync("elsewhere.test", AddressFamily.InterNetwork, CancellationToken.None));
        Assert.Equal(SocketError.TryAgain, e.SocketErrorCode);
    }

    [Theory]
    [InlineData("10.9.8.7")]
    [InlineData("[2001:db8::7]")]
    public async Task ResolveAsync_Literal_ItselfWithoutAQuery(string literal)
    {
        var zone = new Zone();
        IReadOnlyList<IPAddress> addresses = await Create(zone).ResolveAsync(literal, AddressFamily.Unspecified, CancellationToken.None);
        Assert.Equal(IPAddress.Parse(literal.Trim('[', ']')), Assert.Single(addresses));
        Assert.Empty(zone.Seen);
    }

    [Theory]
    [InlineData("bad name.test")]
    [InlineData("a..test")]
    public async Task ResolveAsync_NotAHostName_HostNotFound(string name)
    {
        SocketException e = await Assert.ThrowsAsync<SocketException>(async () => await Create(new Zone()).ResolveAsync(name, AddressFamily.InterNetwork, CancellationToken.None));
        Assert.Equal(SocketError.HostNotFound, e.SocketErrorCode);
    }
}
