using Gateway.Plugins.HttpProxy;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;

namespace Gateway.Tests.HttpProxy;

public sealed class HttpProxyOptionsTests
{
    private static PluginValidationContext Validate(Dictionary<string, string?> values)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var context = new PluginValidationContext("http-proxy", configuration, "/tmp");
        new HttpProxyPlugin().Validate(context);
        return context;
    }

    [Fact]
    public void Read_EmptyDestinationList_MeansNoneNotTheDefault()
    {
        // "denyDestinations: []" in gateway.yaml: the key with a null value.
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["denyDestinations"] = null }).Build();
        List<(string, string)> errors = [];

        HttpProxyOptions options = HttpProxyOptionsReader.Read(configuration, errors);

        Assert.Empty(errors);
        Assert.Empty(options.DenyDestinations);
        Assert.Equal(5, HttpProxyOptionsReader.Read(new ConfigurationBuilder().Build(), errors).DenyDestinations.Count);
    }

    [Fact]
    public void Validate_BadDestinations_ReportsEachEntryByPath()
    {
        PluginValidationContext context = Validate(new()
        {
            ["denyDestinations:0"] = "default",
            ["denyDestinations:1"] = "10.0.0.0/33",
            ["allowDestinations:0"] = "localhost",
            ["allowDestinations:1"] = "self",
        });

        Assert.Equal(["denyDestinations:1", "allowDestinations:0"], context.Errors.Select(e => e.KeyPath));
        Assert.Contains("loopback, linkLocal", context.Errors[0].Message);
    }

    [Fact]
    public void Validate_EmptySection_NoErrors()
    {
        Assert.Empty(Validate([]).Errors);
    }

    [Fact]
    public void Validate_GoodSection_NoErrors()
    {
        PluginValidationContext context = Validate(new()
        {
            ["listen:0"] = "127.0.0.1:3128",
            ["allowClients:0"] = "10.0.0.0/8",
            ["connectPorts:0"] = "443",
            ["connectPorts:1"] = "8443",
            ["originResponseTimeoutSeconds"] = "2.5",
        });

        Assert.Empty(context.Errors);
    }

    [Fact]
    public void Validate_BadKeys_ReportsEveryOneByPath()
    {
        PluginValidationContext context = Validate(new()
        {
            ["allowClients:0"] = "10.0.0.0/8",
            ["allowClients:1"] = "not-a-cidr",
            ["connectPorts:0"] = "70000",
            ["maxConnections"] = "zero",
            ["keepAliveTimeoutSeconds"] = "-1",
            ["colour"] = "blue",
        });

        string[] keys = [.. context.Errors.Select(e => e.KeyPath!).Order()];
        Assert.Equal(["allowClients:1", "colour", "connectPorts:0", "keepAliveTimeoutSeconds", "maxConnections"], keys);
    }

    [Fact]
    public void Validate_GoodCacheSection_NoErrorsAndValuesRead()
    {
        var values = new Dictionary<string, string?>
        {
            ["cache:enabled"] = "true",
            ["cache:maxBytes"] = "128MiB",
            ["cache:maxObjectBytes"] = "2097152",
            ["cache:maxEntries"] = "500",
            ["cache:heuristicMaxAge"] = "2h",
        };
        List<(string Key, string Message)> errors = [];

        Gateway.Plugins.HttpProxy.Configuration.HttpProxyOptions options =
            Gateway.Plugins.HttpProxy.Configuration.HttpProxyOptionsReader.Read(new ConfigurationBuilder().AddInMemoryCollection(values).Build(), errors);

        Assert.Empty(errors);
        Assert.True(options.Cache.Enabled);
        Assert.Equal(128L << 20, options.Cache.MaxBytes);
        Assert.Equal(2L << 20, options.Cache.MaxObjectBytes);
        Assert.Equal(500, options.Cache.MaxEntries);
        Assert.Equal(TimeSpan.FromHours(2), options.Cache.HeuristicMaxAge);
    }

    [Fact]
    public void Validate_DefaultCache_IsOnWith64MiB()
    {
        List<(string Key, string Message)> errors = [];

        var options = Gateway.Plugins.HttpProxy.Configuration.HttpProxyOptionsReader.Read(new ConfigurationBuilder().Build(), errors);

        Assert.True(options.Cache.Enabled);
        Assert.Equal(64L << 20, options.Cache.MaxBytes);
        Assert.True(options.Cache.MaxObjectBytes >= 1 << 20);
        Assert.Equal(TimeSpan.FromHours(1), options.Cache.HeuristicMaxAge);
    }

    [Fact]
    public void Validate_BadCacheKeys_ReportsEveryOneByPath()
    {
        PluginValidationContext context = Validate(new()
        {
            ["cache:enabled"] = "maybe",
            ["cache:maxBytes"] = "lots",
            ["cache:maxEntries"] = "0",
            ["cache:heuristicMaxAge"] = "1 fortnight",
            ["cache:size"] = "1",
        });

        string[] keys = [.. context.Errors.Select(e => e.KeyPath!).Order()];
        Assert.Equal(["cache:enabled", "cache:heuristicMaxAge", "cache:maxBytes", "cache:maxEntries", "cache:size"], keys);
    }

    [Fact]
    public void Validate_MaxObjectBytesAboveMaxBytes_IsAnError()
    {
        PluginValidationContext context = Validate(new() { ["cache:maxBytes"] = "1MiB", ["cache:maxObjectBytes"] = "2MiB" });

        Assert.Equal("cache:maxObjectBytes", Assert.Single(context.Errors).KeyPath);
    }

    [Fact]
    public void Read_CollapsedForwarding_DefaultsOnFor5Seconds_AndIsRead()
    {
        List<(string Key, string Message)> errors = [];
        HttpCacheOptions defaults = HttpProxyOptionsReader.Read(new ConfigurationBuilder().Build(), errors).Cache;
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["cache:collapsedForwarding"] = "false",
            ["cache:collapsedWaitMs"] = "250",
        }).Build();

        HttpCacheOptions read = HttpProxyOptionsReader.Read(configuration, errors).Cache;

        Assert.Empty(errors);
        Assert.True(defaults.CollapsedForwarding);
        Assert.Equal(TimeSpan.FromSeconds(5), defaults.CollapsedWait);
        Assert.False(read.CollapsedForwarding);
        Assert.Equal(TimeSpan.FromMilliseconds(250), read.CollapsedWait);
    }

    [Fact]
    public void Validate_BadCollapsedForwardingKeys_ReportsEachByPath()
    {
        PluginValidationContext context = Validate(new()
        {
            ["cache:collapsedForwarding"] = "sometimes",
            ["cache:collapsedWaitMs"] = "0",
        });

        string[] keys = [.. context.Errors.Select(e => e.KeyPath!).Order()];
        Assert.Equal(["cache:collapsedForwarding", "cache:collapsedWaitMs"], keys);
    }

    [Fact]
    public void Validate_LogLevelAndTheHostsOtherKeys_Accepted()
    {
        PluginValidationContext context = Validate(new()
        {
            ["logLevel"] = "debug",
            ["listen:0"] = "127.0.0.1:3128",
            ["virtual:0"] = "10.30.30.31:8080",
            ["maxConnections"] = "100",
            ["idleTimeoutSeconds"] = "30",
        });

        Assert.Empty(context.Errors);
    }

    [Fact]
    public void Validate_UnknownKeys_TheSdksWordingWithTheKnownKeysOnce()
    {
        PluginValidationContext context = Validate(new() { ["logLevl"] = "debug", ["cache:sise"] = "1", ["cache:enabled"] = "true" });

        Assert.Equal(2, context.Errors.Count);
        PluginConfigError top = Assert.Single(context.Errors, e => e.KeyPath == "logLevl");
        Assert.StartsWith("unknown key in http-proxy (known: allowClients, ", top.Message);
        Assert.Contains(", cache, ", top.Message);
        Assert.EndsWith(", listen, virtual, logLevel)", top.Message);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(top.Message, "maxConnections"));
        PluginConfigError cache = Assert.Single(context.Errors, e => e.KeyPath == "cache:sise");
        Assert.Equal("unknown key in http-proxy.cache (known: enabled, maxBytes, maxObjectBytes, heuristicMaxAge, maxEntries, collapsedForwarding, collapsedWaitMs)", cache.Message);
    }

    [Fact]
    public void Validate_ListGivenAsOneValue_RefusedAtItsKey()
    {
        PluginValidationContext context = Validate(new() { ["denyDestinations"] = "loopback" });

        PluginConfigError error = Assert.Single(context.Errors);
        Assert.Equal("denyDestinations", error.KeyPath);
        Assert.Equal("'loopback' is not a list: write [loopback]", error.Message);
    }
}
