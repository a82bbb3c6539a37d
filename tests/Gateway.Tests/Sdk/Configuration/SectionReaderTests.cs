using Gateway.Host.Configuration;
using Gateway.Sdk.Configuration;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Configuration;

namespace Gateway.Tests.Sdk.Configuration;

/// <summary>The reader over configuration built by the host's own YAML provider, as plugins see it.</summary>
public sealed class SectionReaderTests
{
    [Fact]
    public void Kind_EachShapeOfValue_ToldApart()
    {
        SectionReader section = Reader("""
            scalar: 5
            nothing:
            emptyMap: {}
            emptyList: []
            map: { a: 1 }
            list: [a, b]
            """);

        Assert.Equal(ConfigValueKind.Scalar, section.Kind("scalar"));
        Assert.Equal(ConfigValueKind.Empty, section.Kind("nothing"));
        Assert.Equal(ConfigValueKind.Empty, section.Kind("emptyMap"));
        Assert.Equal(ConfigValueKind.Empty, section.Kind("emptyList"));
        Assert.Equal(ConfigValueKind.Map, section.Kind("map"));
        Assert.Equal(ConfigValueKind.List, section.Kind("list"));
        Assert.Equal(ConfigValueKind.Missing, section.Kind("absent"));
    }

    [Fact]
    public void Complete_UnknownKeys_EachReportedOnceWithKnownAndHostKeys()
    {
        SectionReader section = Reader("""
            listen: [127.0.0.1:7000]
            logLevel: debug
            target: example.test:80
            tagret: typo
            extra: 1
            """);
        section.HostPort("target", required: true);
        section.Int("connectTimeoutSeconds", 10);

        Assert.False(section.Complete());
        section.Complete();

        Assert.Equal(
            [
                new("extra", "unknown key in probe (known: target, connectTimeoutSeconds, listen, virtual, maxConnections, idleTimeoutSeconds, logLevel)"),
                new("tagret", "unknown key in probe (known: target, connectTimeoutSeconds, listen, virtual, maxConnections, idleTimeoutSeconds, logLevel)"),
            ],
            section.Errors);
    }

    [Fact]
    public void Complete_UnknownKeyInANestedMapAndListItem_ReportedWithTheirPaths()
    {
        SectionReader section = Reader("""
            cache: { enabled: true, size: 5 }
            upstreams:
              - { address: 192.0.2.1:853, tls: x }
            """);
        section.Map("cache").Bool("enabled", false);
        foreach (SectionReader upstream in section.Maps("upstreams"))
        {
            upstream.Endpoint("address");
        }

        section.Complete();

        Assert.Equal(
            [
                new("cache:size", "unknown key in probe.cache (known: enabled)"),
                new("upstreams:0:tls", "unknown key in probe.upstreams[0] (known: address)"),
            ],
            section.Errors);
    }

    [Fact]
    public void Reads_WrongValues_ReportedWithTheHostsWordingAndDefaultsKept()
    {
        SectionReader section = Reader("""
            port: 70000
            enabled: sometimes
            target: "not a target"
            mode: loud
            nets: [10.0.0.0/8, nonsense]
            cache: 5
            """);

        Assert.Equal(53, section.Int("port", 53, 1, 65535));
        Assert.True(section.Bool("enabled", true));
        Assert.Null(section.HostPort("target"));
        Assert.Equal("quiet", section.OneOf("mode", "quiet", "quiet", "verbose"));
        Assert.Single(section.Prefixes("nets", []));
        Assert.False(section.Map("cache").Bool("enabled", false));

        Assert.Equal(
            [
                new("port", "'70000' is not a whole number from 1 to 65535"),
                new("enabled", "'sometimes' is not true or false"),
                new("target", "'not a target' is not a host:port (a DNS name or an IP address, IPv6 as [addr]:port; port 1-65535)"),
                new("mode", "'loud' is not one of quiet, verbose"),
                new("nets:1", "'nonsense' is not a network in CIDR form, e.g. 10.0.0.0/8 or fd00::/8"),
                new("cache", "'5' is not a map: write cache: { ... }"),
            ],
            section.Errors);
    }

    [Fact]
    public void Reads_MissingAndEmpty_DefaultsWithoutErrors()
    {
        SectionReader section = Reader("""
            cache:
            nets: []
            """);

        Assert.Equal(TimeSpan.FromSeconds(30), section.Seconds("timeoutSeconds", TimeSpan.FromSeconds(30)));
        Assert.Equal(Timeout.InfiniteTimeSpan, Reader("t: 0").Seconds("t", TimeSpan.FromSeconds(1), zeroIsInfinite: true));
        Assert.True(section.Map("cache").Bool("enabled", true));
        Assert.Equal([IpPrefix.Parse("10.0.0.0/8")], section.Prefixes("nets", [IpPrefix.Parse("10.0.0.0/8")]));
        Assert.Empty(section.Strings("absent"));
        Assert.True(section.Complete());
    }

    [Fact]
    public void RequiredString_Missing_ReportsWhatToWrite()
    {
        SectionReader section = Reader("other: 1");

        section.RequiredString("privateKey", "the base64 private key, e.g. from wg genkey");
        section.Known("other");

        Assert.False(section.Complete());
        Assert.Equal([new("privateKey", "missing: the base64 private key, e.g. from wg genkey")], section.Errors);
    }

    [Fact]
    public void String_QuotedWithSpaces_KeptAsWritten()
    {
        Assert.Equal("hello: ", Reader("greeting: \"hello: \"").String("greeting"));
    }

    [Fact]
    public void Strings_OneValue_IsAOneItemList()
    {
        Assert.Equal(["a.test"], Reader("names: a.test").Strings("names"));
        Assert.Equal(["a.test", "b.test"], Reader("names: [a.test, b.test]").Strings("names"));
    }

    [Fact]
    public void NamedMaps_MapOfMaps_OneReaderPerName()
    {
        SectionReader section = Reader("""
            groups:
              corp: { policy: failover }
              home: { policy: random }
            """);

        var groups = section.NamedMaps("groups").Select(g => (g.Key, g.Value.String("policy"))).ToList();

        Assert.Equal([("corp", "failover"), ("home", "random")], groups);
        Assert.True(section.Complete());
    }

    private static SectionReader Reader(string yaml)
    {
        string indented = string.Join('\n', yaml.Split('\n').Select(line => "  " + line));
        ConfigDocument document = ConfigDocument.Parse("gateway.yaml", "probe:\n" + indented + "\n");
        IConfiguration root = GatewayConfigurationProvider.Build(document.Data, out _);
        return new SectionReader(root.GetSection("probe"), "probe");
    }
}
