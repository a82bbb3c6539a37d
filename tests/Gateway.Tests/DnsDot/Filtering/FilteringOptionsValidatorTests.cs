using Gateway.Plugins.DnsDot;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;

namespace Gateway.Tests.DnsDot.Filtering;

public sealed class FilteringOptionsValidatorTests
{
    private static IReadOnlyList<PluginConfigError> Validate(Dictionary<string, string?> settings)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var context = new PluginValidationContext("dns-dot", configuration, Path.GetTempPath());
        new DnsDotPlugin().Validate(context);
        return context.Errors;
    }

    [Fact]
    public void Validate_MalformedRecord_KeyPathOfTheEntryAndColumnInMessage()
    {
        IReadOnlyList<PluginConfigError> errors = Validate(new()
        {
            ["records:0"] = "nas.home.test 300 A 192.168.1.10",
            ["records:1"] = "bad.home.test 300 A 192.168.1.300",
        });
        PluginConfigError error = Assert.Single(errors);
        Assert.Equal("records:1", error.KeyPath);
        Assert.Contains("column 21", error.Message);
        Assert.Contains("IPv4", error.Message);
    }

    [Fact]
    public void Validate_FilteringKeys_EveryProblemWithItsPath()
    {
        IReadOnlyList<PluginConfigError> errors = Validate(new()
        {
            ["lists:0:name"] = "ads",
            ["lists:0:url"] = "ftp://example.test/list.txt",
            ["lists:0:format"] = "csv",
            ["lists:0:refresh"] = "daily",
            ["lists:1:name"] = "bad name",
            ["lists:1:url"] = "https://example.test/a.txt",
            ["lists:1:file"] = "a.txt",
            ["lists:1:kind"] = "deny",
            ["clients:kids:networks:0"] = "192.168.1.64/27",
            ["clients:kids:lists:0"] = "nope",
            ["clients:kids:upstream"] = "filtered",
            ["clients:twins:networks:0"] = "192.168.1.64/27",
            ["clients:none:blocking"] = "false",
            ["blockingMode"] = "customIp",
            ["blockedTtl"] = "-1",
            ["queryLog:maxSizeMB"] = "0",
            ["dnstap:socket"] = "/run/x.sock",
            ["dnstap:address"] = "127.0.0.1:6000",
        });
        string[] paths = errors.Select(e => e.KeyPath!).ToArray();
        Assert.Contains("lists:0:url", paths);
        Assert.Contains("lists:0:format", paths);
        Assert.Contains("lists:0:refresh", paths);
        Assert.Contains("lists:1:name", paths);
        Assert.Contains("lists:1", paths);
        Assert.Contains("lists:1:kind", paths);
        Assert.Contains("clients:kids:lists:0", paths);
        Assert.Contains("clients:kids:upstream", paths);
        Assert.Contains("clients:twins:networks:0", paths);
        Assert.Contains("clients:none:networks", paths);
        Assert.Contains("blockingIps", paths);
        Assert.Contains("blockedTtl", paths);
        Assert.Contains("queryLog:path", paths);
        Assert.Contains("queryLog:maxSizeMB", paths);
        Assert.Contains("dnstap", paths);
    }

    [Fact]
    public void Validate_GoodFilteringSection_NoErrors()
    {
        IReadOnlyList<PluginConfigError> errors = Validate(new()
        {
            ["lists:0:name"] = "ads",
            ["lists:0:url"] = "https://example.test/list.txt",
            ["lists:0:format"] = "adblock",
            ["lists:0:refresh"] = "24h",
            ["groups:filtered:upstreams:0:address"] = "127.0.0.1:853",
            ["groups:filtered:upstreams:0:tlsName"] = "x.test",
            ["clients:kids:networks:0"] = "192.168.1.64/27",
            ["clients:kids:lists:0"] = "ads",
            ["clients:kids:upstream"] = "filtered",
            ["records:0"] = "*.dev.home.test A 192.168.1.20",
            ["blockingMode"] = "nullIp",
            ["queryLog:path"] = "query.log",
            ["dnstap:address"] = "127.0.0.1:6000",
        });
        Assert.Empty(errors);
    }
}
