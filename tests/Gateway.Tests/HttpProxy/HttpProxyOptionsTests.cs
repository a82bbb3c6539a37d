using Gateway.Plugins.HttpProxy;
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
}
