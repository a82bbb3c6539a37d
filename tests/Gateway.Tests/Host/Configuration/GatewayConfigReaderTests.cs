using System.Collections;
using Gateway.Host.Configuration;
using Gateway.Sdk.Networking;

namespace Gateway.Tests.Host.Configuration;

public sealed class GatewayConfigReaderTests
{
    private const string File = "/etc/gateway/gateway.yaml";

    [Fact]
    public void Read_ValidFile_ParsesHostOptionsAndEndpoints()
    {
        GatewayConfig config = Read("""
            host:
              plugins: [plugins, /opt/extra]
              tun: { enabled: true, name: gw1, addresses: [10.1.0.1/24, "fd00::1/64"], mtu: 1400 }
              admin: { listen: 127.0.0.1:9090 }
              statsd: { address: "[::1]:8125" }
              limits: { maxConnections: 5, idleTimeoutSeconds: 0 }
            dns-dot:
              listen: [127.0.0.1:5353, "[::]:5353"]
              virtual: [10.30.30.30:53]
              maxConnections: 7
            """);

        Assert.Equal(["/etc/gateway/plugins", "/opt/extra"], config.Host.Plugins);
        Assert.True(config.Host.Tun.Enabled);
        Assert.Equal("gw1", config.Host.Tun.Name);
        Assert.Equal(["10.1.0.1/24", "fd00::1/64"], config.Host.Tun.Addresses);
        Assert.Equal(1400, config.Host.Tun.Mtu);
        Assert.Equal(NetEndpoint.Parse("127.0.0.1:9090"), config.Host.Admin.Listen);
        Assert.Equal(NetEndpoint.Parse("[::1]:8125"), config.Host.Statsd.Address);
        Assert.Equal(Timeout.InfiniteTimeSpan, config.Host.Limits.IdleTimeout);
        PluginSectionOptions dns = config.SectionFor("dns-dot");
        Assert.Equal(
            [
                new ServiceEndpoint(EndpointKind.HostSocket, NetEndpoint.Parse("127.0.0.1:5353")),
                new ServiceEndpoint(EndpointKind.HostSocket, NetEndpoint.Parse("[::]:5353")),
                new ServiceEndpoint(EndpointKind.Virtual, NetEndpoint.Parse("10.30.30.30:53")),
            ],
            dns.Endpoints);
        Assert.Equal(7, dns.Limits.MaxConnections);
        Assert.Equal(0, dns.Limits.IdleTimeoutSeconds);
    }

    [Fact]
    public void Read_NoHostSection_UsesDefaults()
    {
        GatewayConfig config = Read("echo:\n  greeting: hi\n");

        Assert.Equal(["/app/plugins"], config.Host.Plugins);
        Assert.False(config.Host.Tun.Enabled);
        Assert.Null(config.Host.Admin.Listen);
        Assert.Equal(10000, config.SectionFor("echo").Limits.MaxConnections);
        Assert.Empty(config.SectionFor("absent").Endpoints);
    }

    [Fact]
    public void Load_BadYamlSyntax_ReportsFileLineColumn()
    {
        string error = Assert.Single(Errors("host:\n  tun: [a\n  admin: x\n"));

        Assert.StartsWith(File + ":", error);
        Assert.Contains("invalid YAML", error);
        Assert.Matches(@"^/etc/gateway/gateway\.yaml:\d+:\d+: ", error);
    }

    [Fact]
    public void Read_UnknownBoolValue_ReportsKeyPathAndPosition()
    {
        string error = Assert.Single(Errors("host:\n  tun:\n    enabled: maybe\n"));

        Assert.Equal($"{File}:3:5: host.tun.enabled: 'maybe' is not true or false", error);
    }

    [Fact]
    public void Read_UnknownLogLevel_ReportsEnumValues()
    {
        string error = Assert.Single(Errors("host:\n  logLevel: chatty\n"));

        Assert.Equal($"{File}:2:3: host.logLevel: 'chatty' is not one of error, warn, info, debug", error);
    }

    [Theory]
    [InlineData("127.0.0.1:99999")]
    [InlineData("127.0.0.1")]
    [InlineData("localhost:53")]
    [InlineData("::1:53")]
    public void Read_BadListenEndpoint_ReportsListIndex(string endpoint)
    {
        string error = Assert.Single(Errors($"dns-dot:\n  listen:\n    - 127.0.0.1:53\n    - \"{endpoint}\"\n"));

        Assert.StartsWith($"{File}:4:7: dns-dot.listen[1]: '{endpoint}' is not an ip:port endpoint", error);
    }

    [Fact]
    public void Read_BadAdminPort_ReportsKey()
    {
        string error = Assert.Single(Errors("host:\n  admin:\n    listen: 127.0.0.1:0\n"));

        Assert.StartsWith($"{File}:3:5: host.admin.listen: '127.0.0.1:0' is not an ip:port endpoint", error);
    }

    [Theory]
    [InlineData("10.0.0.300/24")]
    [InlineData("10.0.0.1/33")]
    [InlineData("10.0.0.1")]
    public void Read_BadTunCidr_ReportsAddress(string cidr)
    {
        string error = Assert.Single(Errors($"host:\n  tun:\n    addresses: [\"{cidr}\"]\n"));

        Assert.StartsWith($"{File}:3:17: host.tun.addresses[0]: '{cidr}' is not an address with prefix length (CIDR)", error);
    }

    [Fact]
    public void Read_UnknownHostKey_ReportsKnownKeys()
    {
        string error = Assert.Single(Errors("host:\n  admin: { listen: 127.0.0.1:9090 }\n  plugin: [x]\n"));

        Assert.Equal($"{File}:3:3: host.plugin: unknown key in host (known: plugins, drainTimeoutSeconds, tun, admin, statsd, otlp, limits, logLevel)", error);
    }

    [Fact]
    public void Read_DrainTimeout_DefaultThirtyAndSetValue()
    {
        Assert.Equal(30, Read("host:\n  plugins: [p]\n").Host.DrainTimeoutSeconds);
        Assert.Equal(5, Read("host:\n  drainTimeoutSeconds: 5\n").Host.DrainTimeoutSeconds);
    }

    [Fact]
    public void Read_DrainTimeoutOutOfRange_ErrorWithPosition()
    {
        string error = Assert.Single(Errors("host:\n  drainTimeoutSeconds: 99999\n"));

        Assert.StartsWith($"{File}:2:", error);
        Assert.Contains("host.drainTimeoutSeconds", error);
    }

    [Fact]
    public void Read_UnknownNestedKey_ReportsSectionPath()
    {
        string error = Assert.Single(Errors("host:\n  tun:\n    mut: 1400\n"));

        Assert.Equal($"{File}:3:5: host.tun.mut: unknown key in host.tun (known: enabled, name, addresses, mtu, natMaxPerSource, natMaxSessions, natHalfOpenTimeoutSeconds)", error);
    }

    [Fact]
    public void Read_TunEnabledWithEmptyName_ReportsRequiredKey()
    {
        string error = Assert.Single(Errors("host:\n  tun:\n    enabled: true\n    name: \"\"\n"));

        Assert.Equal($"{File}:4:5: host.tun.name: required when tun.enabled is true: the interface name, e.g. gw0", error);
    }

    [Fact]
    public void Read_NatLimits_ReadAndDefaultsKept()
    {
        GatewayConfig config = Read("host:\n  tun:\n    natMaxPerSource: 100\n    natHalfOpenTimeoutSeconds: 10\n");

        Assert.Equal(new Gateway.Host.Nat.NatLimits(64512, 100, TimeSpan.FromSeconds(10)), config.Host.Tun.ToNatLimits());
        Assert.Equal(Gateway.Host.Nat.NatLimits.Default, Read("host:\n  tun: {}\n").Host.Tun.ToNatLimits());
    }

    [Theory]
    [InlineData("natMaxPerSource: 0")]
    [InlineData("natMaxSessions: 70000")]
    [InlineData("natHalfOpenTimeoutSeconds: 1")]
    public void Read_NatLimitOutOfRange_ErrorAtItsKey(string line)
    {
        string error = Assert.Single(Errors($"host:\n  tun:\n    {line}\n"));

        Assert.StartsWith($"{File}:3:5: host.tun.{line[..line.IndexOf(':')]}", error);
    }

    [Fact]
    public void Read_SeveralErrors_ReportsEveryOneInFileOrder()
    {
        List<string> errors = Errors("host:\n  tun:\n    mtu: 10\n  bogus: 1\ndns-dot:\n  listen: [nowhere]\n");

        Assert.Equal(3, errors.Count);
        Assert.Contains("host.tun.mtu", errors[0]);
        Assert.Contains("host.bogus", errors[1]);
        Assert.Contains("dns-dot.listen[0]", errors[2]);
    }

    [Fact]
    public void Load_MissingFile_ReportsPath()
    {
        string path = Path.Combine(Path.GetTempPath(), "gateway-missing-" + Guid.NewGuid().ToString("N") + ".yaml");

        ConfigException ex = Assert.Throws<ConfigException>(() => GatewayConfigReader.Load(path, "/app", null));

        Assert.Equal($"{path}: config file not found; pass --config FILE or create gateway.yaml", Assert.Single(ex.Errors).ToString());
    }

    [Fact]
    public void Parse_EnvironmentOverride_WinsOverFileAndMapsDashes()
    {
        var environment = new Hashtable
        {
            ["GATEWAY_HOST__ADMIN__LISTEN"] = "127.0.0.1:9999",
            ["GATEWAY_DNS_DOT__CACHE__ENABLED"] = "false",
            ["PATH"] = "/usr/bin",
        };

        ConfigDocument document = ConfigDocument.Parse(File, "host:\n  admin: { listen: 127.0.0.1:9090 }\ndns-dot:\n  cache: { enabled: true }\n", environment);
        GatewayConfig config = GatewayConfigReader.Read(document, "/app");

        Assert.Equal(NetEndpoint.Parse("127.0.0.1:9999"), config.Host.Admin.Listen);
        Assert.Equal("false", config.Configuration["dns-dot:cache:enabled"]);
    }

    [Fact]
    public void Read_BadEnvironmentOverride_NamesTheVariable()
    {
        ConfigDocument document = ConfigDocument.Parse(File, "host: {}\n", new Hashtable { ["GATEWAY_HOST__TUN__ENABLED"] = "sometimes" });

        ConfigException ex = Assert.Throws<ConfigException>(() => GatewayConfigReader.Read(document, "/app"));

        Assert.Equal("environment variable GATEWAY_HOST__TUN__ENABLED: host.tun.enabled: 'sometimes' is not true or false", Assert.Single(ex.Errors).ToString());
    }

    [Fact]
    public void Parse_ListsAndMaps_FlattenToIndexedKeys()
    {
        ConfigDocument document = ConfigDocument.Parse(File, "dns-dot:\n  upstreams:\n    - address: 1.1.1.1:853\n      tlsName: one.one.one.one\n");

        Assert.Equal("1.1.1.1:853", document.Data["dns-dot:upstreams:0:address"]);
        Assert.Equal("one.one.one.one", document.Data["dns-dot:upstreams:0:tlsName"]);
        Assert.Equal($"{File}:4:7: dns-dot.upstreams[0].tlsName: bad", document.ErrorAt("dns-dot:upstreams:0:tlsName", "bad").ToString());
        Assert.Equal($"{File}:3:7: dns-dot.upstreams[0].caFile: missing", document.ErrorAt("dns-dot:upstreams:0:caFile", "missing").ToString());
    }

    [Theory]
    [InlineData("dns-dot:upstreams:0:address", "dns-dot.upstreams[0].address")]
    [InlineData("host", "host")]
    [InlineData("a:10:b:2", "a[10].b[2]")]
    public void DisplayPath_ConfigKey_UsesDotsAndIndices(string key, string expected) =>
        Assert.Equal(expected, ConfigDocument.DisplayPath(key));

    private static GatewayConfig Read(string yaml) => GatewayConfigReader.Read(ConfigDocument.Parse(File, yaml), "/app");

    private static List<string> Errors(string yaml)
    {
        ConfigException ex = Assert.Throws<ConfigException>(() => Read(yaml));
        return ex.Errors.Select(e => e.ToString()).ToList();
    }
}
