using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Origins;
using Gateway.Plugins.HttpProxy.Parents;
using Gateway.Plugins.HttpProxy.Proxy;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.HttpProxy.Parents;

public sealed class ParentRouterTests : IDisposable
{
    private readonly Meter _meter = new("parent-router-tests");
    private readonly ConcurrentDictionary<string, ParentHealth> _health = new(StringComparer.OrdinalIgnoreCase);

    [Theory]
    [InlineData("example.test", 0)]
    [InlineData("WWW.Example.Test.", 0)]
    [InlineData("a.b.example.test", 0)]
    [InlineData("badexample.test", -1)]
    [InlineData("example.test.evil", -1)]
    [InlineData("other.test", 1)]
    [InlineData("x.other.test", 1)]
    [InlineData("192.0.2.1", -1)]
    public void Next_Domains_MatchTheNameAndNamesBelowIt(string host, int expected)
    {
        ParentRouter router = Router(new()
        {
            ["parents:0:proxy"] = "http://127.0.0.1:3128",
            ["parents:0:domains:0"] = "example.test",
            ["parents:1:proxy"] = "socks5://127.0.0.1:1080",
            ["parents:1:domains:0"] = ".other.test",
        });

        Assert.Equal(expected, router.Next(0, host, Literal(host)));
        Assert.Equal(expected >= 0, router.AnyMatch(host, Literal(host)));
    }

    [Fact]
    public void Next_Networks_MatchLiteralsAndResolvedAddresses_AndAskForAddressesOnlyWhenNeeded()
    {
        ParentRouter router = Router(new()
        {
            ["parents:0:proxy"] = "http://127.0.0.1:3128",
            ["parents:0:domains:0"] = "corp.test",
            ["parents:1:proxy"] = "http://127.0.0.1:3129",
            ["parents:1:networks:0"] = "192.0.2.0/24",
            ["parents:1:networks:1"] = "2001:db8::/32",
        });

        Assert.Equal(1, router.Next(0, "192.0.2.7", Literal("192.0.2.7")));
        Assert.Equal(1, router.Next(0, "2001:db8::5", Literal("2001:db8::5")));
        Assert.Equal(-1, router.Next(0, "198.51.100.1", Literal("198.51.100.1")));
        Assert.Equal(1, router.Next(0, "host.test", [IPAddress.Parse("198.51.100.1"), IPAddress.Parse("192.0.2.9")]));
        Assert.Equal(-1, router.Next(0, "host.test", [IPAddress.Parse("198.51.100.1")]));
        Assert.True(router.NeedsAddresses("host.test"));
        Assert.False(router.NeedsAddresses("www.corp.test"));
        Assert.False(router.NeedsAddresses("192.0.2.7"));
    }

    [Fact]
    public void Next_EntryWithoutDomainsOrNetworks_ServesEveryDestination()
    {
        ParentRouter router = Router(new() { ["parents:0:proxy"] = "http://127.0.0.1:3128" });

        Assert.Equal(0, router.Next(0, "anything.test", null));
        Assert.Equal(0, router.Next(0, "10.1.2.3", Literal("10.1.2.3")));
        Assert.False(router.NeedsAddresses("anything.test"));
    }

    [Fact]
    public void Next_InConfiguredOrder_SkipsParentsInTheirBackOff()
    {
        ParentRouter router = Router(new()
        {
            ["parents:0:proxy"] = "http://127.0.0.1:3128",
            ["parents:0:domains:0"] = "example.test",
            ["parents:1:proxy"] = "http://127.0.0.1:3129",
            ["parents:2:proxy"] = "http://127.0.0.1:3130",
            ["parents:2:domains:0"] = "example.test",
        });
        Assert.Equal(0, router.Next(0, "example.test", null));
        Assert.Equal(1, router.Next(1, "example.test", null));
        Assert.Equal(2, router.Next(2, "example.test", null));

        _health["http://127.0.0.1:3128"].Failed();
        _health["http://127.0.0.1:3129"].Failed();

        Assert.Equal(2, router.Next(0, "example.test", null));
        Assert.Equal(-1, router.Next(0, "other.test", null));
        Assert.True(router.AnyMatch("other.test", null));
    }

    [Fact]
    public void Health_IsSharedByRoutersBuiltForAReload()
    {
        var values = new Dictionary<string, string?> { ["parents:0:proxy"] = "http://127.0.0.1:3128" };
        ParentRouter before = Router(values);
        before[0].Health.Failed();

        ParentRouter after = Router(values);

        Assert.Equal(-1, after.Next(0, "example.test", null));
    }

    [Fact]
    public void Reload_AppliesNewParents_AndKeepsAParentsBackOff()
    {
        HttpProxyOptions first = Options(new() { ["parents:0:proxy"] = "http://127.0.0.1:3128", ["parents:0:domains:0"] = "a.test" });
        using var handler = new HttpProxyHandler(first, static _ => { }, static () => SystemNameResolver.Instance, new HttpProxyMetrics(_meter), NullLogger.Instance,
            HostAddresses.Fixed(NetAddress.Parse("192.0.2.10")));
        handler.Rules.Parents[0].Health.Failed();

        handler.Reload(Options(new()
        {
            ["parents:0:proxy"] = "http://127.0.0.1:3129",
            ["parents:0:domains:0"] = "b.test",
            ["parents:1:proxy"] = "http://127.0.0.1:3128",
            ["parents:1:domains:0"] = "b.test",
            ["neverDirect"] = "true",
        }));

        ParentRouter parents = handler.Rules.Parents;
        Assert.True(parents.NeverDirect);
        Assert.False(parents.AnyMatch("a.test", null));
        Assert.Equal(0, parents.Next(0, "b.test", null));
        Assert.Equal(-1, parents.Next(1, "b.test", null));
    }

    [Fact]
    public async Task ConnectAsync_ParentPortClosed_ReturnsNullAndMarksItDown()
    {
        int closed = ClosedPort();
        ParentRouter router = Router(new() { ["parents:0:proxy"] = $"http://127.0.0.1:{closed}" });
        using var deadline = new CancellationTokenSource();

        var connection = await router.ConnectAsync(router[0], deadline, CancellationToken.None);

        Assert.Null(connection);
        Assert.False(router[0].Health.IsLive);
        Assert.Equal(-1, router.Next(0, "example.test", null));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TunnelAsync_NoParentReachable_DirectOrUnderNeverDirect502(bool neverDirect)
    {
        ParentRouter router = Router(new()
        {
            ["parents:0:proxy"] = $"http://127.0.0.1:{ClosedPort()}",
            ["parents:1:proxy"] = $"socks5://127.0.0.1:{ClosedPort()}",
            ["neverDirect"] = neverDirect ? "true" : "false",
        });
        using var deadline = new CancellationTokenSource();

        if (neverDirect)
        {
            OriginException e = await Assert.ThrowsAsync<OriginException>(async () =>
                await router.TunnelAsync("example.test", 80, null, null, 4096, deadline, CancellationToken.None));
            Assert.Equal(502, e.Status);
            Assert.Contains("neverDirect", e.Message);
        }
        else
        {
            Assert.Null(await router.TunnelAsync("example.test", 80, null, null, 4096, deadline, CancellationToken.None));
        }

        Assert.False(router[0].Health.IsLive);
        Assert.False(router[1].Health.IsLive);
    }

    [Fact]
    public async Task TunnelAsync_LiteralDestinationDeniedByPolicy_403BeforeAnyParentIsAsked()
    {
        ParentRouter router = Router(new() { ["parents:0:proxy"] = $"http://127.0.0.1:{ClosedPort()}" });
        var policy = new DestinationPolicy(DestinationRule.Defaults, [], HostAddresses.Fixed(NetAddress.Parse("192.0.2.10")));
        using var deadline = new CancellationTokenSource();

        OriginException e = await Assert.ThrowsAsync<OriginException>(async () =>
            await router.TunnelAsync("169.254.169.254", 80, [IPAddress.Parse("169.254.169.254")], policy, 4096, deadline, CancellationToken.None));

        Assert.Equal(403, e.Status);
        Assert.Equal("link-local", e.DeniedBy);
        Assert.True(router[0].Health.IsLive);
    }

    private static HttpProxyOptions Options(Dictionary<string, string?> values)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        List<(string Key, string Message)> errors = [];
        HttpProxyOptions options = HttpProxyOptionsReader.Read(configuration, errors);
        Assert.Empty(errors);
        return options;
    }

    private ParentRouter Router(Dictionary<string, string?> values)
    {
        HttpProxyOptions options = Options(values);
        var connector = new OriginConnector(static _ => { }, static () => SystemNameResolver.Instance, TimeSpan.FromSeconds(10));
        return new ParentRouter(options.Parents, options.NeverDirect, _health, connector, new HttpProxyMetrics(_meter), NullLogger.Instance,
            new WarningLimiter(NullLogger.Instance));
    }

    private static IPAddress[]? Literal(string host) => IPAddress.TryParse(host, out IPAddress? address) ? [address] : null;

    private static int ClosedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public void Dispose() => _meter.Dispose();
}
