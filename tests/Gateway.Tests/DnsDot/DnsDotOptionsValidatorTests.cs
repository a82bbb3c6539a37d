using Gateway.Plugins.DnsDot;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;

namespace Gateway.Tests.DnsDot;

public sealed class DnsDotOptionsValidatorTests
{
    private static IReadOnlyList<PluginConfigError> Validate(Dictionary<string, string?> settings)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var context = new PluginValidationContext("dns-dot", configuration, Path.GetTempPath());
        new DnsDotPlugin().Validate(context);
        return context.Errors;
    }

    [Fact]
    public void Validate_EveryBadKey_ReportedWithItsPath()
    {
        IReadOnlyList<PluginConfigError> errors = Validate(new()
        {
            ["upstreams:0:address"] = "1.1.1.1",
            ["upstreams:1:address"] = "9.9.9.9:853",
            ["upstreams:1:tlsName"] = "dns.quad9.net",
            ["upstreams:1:caFile"] = "no-such-ca.pem",
            ["upstreams:1:spkiPins:0"] = "not base64!",
            ["policy"] = "fastest",
            ["groups:corp:policy"] = "failover",
            ["groups:empty:policy"] = "random",
        });
        string[] paths = errors.Select(e => e.KeyPath!).ToArray();
        Assert.Contains("upstreams:0:address", paths);
        Assert.Contains("upstreams:0:tlsName", paths);
        Assert.Contains("upstreams:1:caFile", paths);
        Assert.Contains("upstreams:1:spkiPins:0", paths);
        Assert.Contains("policy", paths);
        Assert.Contains("groups:corp:upstreams", paths);
        Assert.Contains("groups:empty:upstreams", paths);
    }

    [Fact]
    public void Validate_GoodSection_NoErrors()
    {
        Assert.Empty(Validate(new()
        {
            ["upstreams:0:address"] = "1.1.1.1:853",
            ["upstreams:0:tlsName"] = "cloudflare-dns.com",
            ["upstreams:0:spkiPins:0"] = Convert.ToBase64String(new byte[32]),
            ["policy"] = "availability",
            ["cache:enabled"] = "true",
        }));
    }

    [Fact]
    public void Validate_WrongType_Reported()
    {
        Assert.NotEmpty(Validate(new() { ["cache:enabled"] = "maybe" }));
    }

    [Fact]
    public void Bind_MaxConnectionsIsTheListenersLimit_UpstreamPoolHasItsOwnKey()
    {
        static Gateway.Plugins.DnsDot.Configuration.DnsDotOptions Bind(Dictionary<string, string?> settings) =>
            Gateway.Plugins.DnsDot.Configuration.DnsDotOptionsValidator.Bind(new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), null)!;

        // maxConnections is read by the host (TCP listener limit) and no longer resizes the upstream pool.
        Assert.Equal(4, Bind(new() { ["maxConnections"] = "2" }).UpstreamMaxConnections);
        Assert.Equal(8, Bind(new() { ["maxConnections"] = "2", ["upstreamMaxConnections"] = "8" }).UpstreamMaxConnections);
        Assert.Equal("upstreamMaxConnections", Assert.Single(Validate(new() { ["upstreamMaxConnections"] = "0" })).KeyPath);
    }

    [Fact]
    public void Validate_LogLevelAndTheHostsOtherKeys_NoErrors()
    {
        Assert.Empty(Validate(new()
        {
            ["logLevel"] = "debug",
            ["listen:0"] = "127.0.0.1:5353",
            ["maxConnections"] = "100",
            ["idleTimeoutSeconds"] = "30",
        }));
    }

    [Fact]
    public void Validate_UnknownKeysAtEveryLevel_ReportedInTheSdkWordingAtTheirPaths()
    {
        IReadOnlyList<PluginConfigError> errors = Validate(new()
        {
            ["upstreams:0:address"] = "1.1.1.1:853",
            ["upstreams:0:tlsName"] = "one.one.one.one",
            ["upstreams:0:tlsname2"] = "typo",
            ["cahce:enabled"] = "false",
            ["cache:maxEntrys"] = "5",
            ["groups:corp:upstreams:0:address"] = "9.9.9.9:853",
            ["groups:corp:upstreams:0:tlsName"] = "dns.quad9.net",
            ["groups:corp:polcy"] = "random",
            ["clients:kids:networks:0"] = "192.168.1.64/27",
            ["clients:kids:blockng"] = "false",
            ["logLevel"] = "debug",
        });

        Assert.Equal(
            ["cache:maxEntrys", "cahce", "clients:kids:blockng", "groups:corp:polcy", "upstreams:0:tlsname2"],
            errors.Select(e => e.KeyPath!).Order(StringComparer.Ordinal).ToArray());
        Assert.StartsWith("unknown key in dns-dot (known: upstreams, policy, groups, cache, ", errors.Single(e => e.KeyPath == "cahce").Message);
        Assert.StartsWith("unknown key in dns-dot.cache (known: enabled, maxEntries, ", errors.Single(e => e.KeyPath == "cache:maxEntrys").Message);
        Assert.StartsWith("unknown key in dns-dot.upstreams[0] (known: address, tlsName, ", errors.Single(e => e.KeyPath == "upstreams:0:tlsname2").Message);
    }
}
