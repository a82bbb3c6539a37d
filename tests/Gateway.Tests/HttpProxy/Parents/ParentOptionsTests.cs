using Gateway.Plugins.HttpProxy;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Parents;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;

namespace Gateway.Tests.HttpProxy.Parents;

public sealed class ParentOptionsTests
{
    [Fact]
    public void Read_Parents_InOrderWithDomainsNetworksAndNeverDirect()
    {
        List<(string Key, string Message)> errors = [];

        HttpProxyOptions options = HttpProxyOptionsReader.Read(Configuration(new()
        {
            ["parents:0:proxy"] = "http://user:pw@192.0.2.10:3128",
            ["parents:0:domains:0"] = ".Example.Test",
            ["parents:0:domains:1"] = "corp.test.",
            ["parents:1:proxy"] = "socks5://192.0.2.11:1080",
            ["parents:1:networks:0"] = "10.0.0.0/8",
            ["parents:1:networks:1"] = "192.0.2.99",
            ["neverDirect"] = "true",
        }), errors);

        Assert.Empty(errors);
        Assert.True(options.NeverDirect);
        Assert.Equal(2, options.Parents.Count);
        Assert.Equal("http://192.0.2.10:3128", options.Parents[0].Proxy);
        Assert.Equal(["example.test", "corp.test"], options.Parents[0].Domains);
        Assert.Equal(ParentProtocol.Socks5, options.Parents[1].Url!.Protocol);
        Assert.Equal(["10.0.0.0/8", "192.0.2.99/32"], options.Parents[1].Networks.Select(n => n.ToString()));
    }

    [Fact]
    public void Read_NoParents_EverythingDirect()
    {
        List<(string Key, string Message)> errors = [];

        HttpProxyOptions options = HttpProxyOptionsReader.Read(Configuration([]), errors);

        Assert.Empty(errors);
        Assert.Empty(options.Parents);
        Assert.False(options.NeverDirect);
    }

    [Fact]
    public void Validate_BadEntries_EachReportedAtItsPath_PasswordNeverShown()
    {
        PluginValidationContext context = Validate(new()
        {
            ["parents:0:proxy"] = "https://alice:topsecret@proxy.test:3128",
            ["parents:1:proxy"] = "http://proxy.test:3128",
            ["parents:1:domains:0"] = "ok.test",
            ["parents:1:domains:1"] = "bad name!",
            ["parents:1:domains:2"] = "192.0.2.1",
            ["parents:2:proxy"] = "socks5://proxy.test:1080",
            ["parents:2:networks:0"] = "10.0.0.0/33",
            ["parents:2:port"] = "1080",
            ["parents:3:domains:0"] = "example.test",
            ["parents:4:proxy"] = "http://proxy.test",
        });

        Assert.Equal(
            ["parents:0:proxy", "parents:1:domains:1", "parents:1:domains:2", "parents:2:networks:0", "parents:3:proxy", "parents:4:proxy", "parents:2:port"],
            context.Errors.Select(e => e.KeyPath));
        Assert.Contains("'https://alice:***@proxy.test:3128' scheme 'https' is not supported", context.Errors[0].Message);
        Assert.All(context.Errors, e => Assert.DoesNotContain("topsecret", e.Message));
        Assert.Contains("IP addresses go in networks", context.Errors[2].Message);
        Assert.Contains("the port is required", context.Errors[5].Message);
    }

    [Fact]
    public void Validate_ParentsNotAList_Reported()
    {
        PluginValidationContext context = Validate(new() { ["parents"] = "http://proxy.test:3128" });

        Assert.Equal(["parents"], context.Errors.Select(e => e.KeyPath));
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) => new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    private static PluginValidationContext Validate(Dictionary<string, string?> values)
    {
        var context = new PluginValidationContext("http-proxy", Configuration(values), "/tmp");
        new HttpProxyPlugin().Validate(context);
        return context;
    }
}
