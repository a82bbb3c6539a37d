using System.Collections;
using Gateway.Host.Configuration;

namespace Gateway.Tests.Deploy;

/// <summary>The configs shipped for deployment pass the host's own validation, with the environment their deployment gives.</summary>
public sealed class ShippedConfigTests
{
    private static readonly string Root = FindRoot();

    [Theory]
    [InlineData("gateway.yaml")]
    [InlineData("deploy/container/gateway.yaml")]
    public void HostKeys_ShippedConfig_Accepted(string file)
    {
        GatewayConfig config = Read(file, new Hashtable());

        Assert.NotNull(config.Host);
    }

    [Fact]
    public void HostKeys_KubernetesConfigWithTheDaemonSetsToken_AcceptedAndWithoutItRefused()
    {
        var environment = new Hashtable { ["GATEWAY_HOST__ADMIN__TOKEN"] = "0123456789abcdef0123456789abcdef" };

        Assert.Equal("0.0.0.0:9090", Read("deploy/kubernetes/gateway.yaml", environment).Host.Admin.Listen.ToString());
        ConfigException refused = Assert.Throws<ConfigException>(() => Read("deploy/kubernetes/gateway.yaml", new Hashtable()));
        Assert.Contains(refused.Errors, e => e.KeyPath.StartsWith("host.admin", StringComparison.Ordinal));
    }

    private static GatewayConfig Read(string file, IDictionary environment) =>
        GatewayConfigReader.Read(ConfigDocument.Parse(Path.Combine(Root, file), File.ReadAllText(Path.Combine(Root, file)), environment), "/app");

    private static string FindRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "Gateway.sln")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("Gateway.sln not found above " + AppContext.BaseDirectory);
    }
}
