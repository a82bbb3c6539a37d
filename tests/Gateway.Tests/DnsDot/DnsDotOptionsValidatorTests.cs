using Gateway.Plugins.DnsDot;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;

namespace Gateway.Tests.DnsDot;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
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
    public void Validate_BadServingKeys_ReportedWithTheirPaths()
    {
        IReadOnlyList<PluginConfigError> errors = Validate(new()
        {
            ["allowClients:0"] = "10.0.0.0/8",
            ["allowClients:1"] = "everyone",
            ["denyClients:0"] = "10.1.0.0/33",
            ["rateLimit:qps"] = "-1",
            ["rateLimit:ipv4Prefix"] = "33",
            ["rateLimit:ipv6Prefix"] = "96",
            ["rateLimit:slip"] = "-2",
            ["maxConnectionsPerClient"] = "-1",
            ["clientWriteTimeoutMs"] = "0",
            ["maxBufferedAnswerBytes"] = "1000",
            ["cache:maxBytes"] = "0",
            ["listenTls:0"] = "127.0.0.1",
            ["bootstrap:0"] = "dns.example",
        });
        string[] paths = errors.Select(e => e.KeyPath!).ToArray();
        Assert.Equal(
            ["allowClients:1", "denyClients:0", "rateLimit:qps", "rateLimit:ipv4Prefix", "rateLimit:ipv6Prefix", "rateLimit:slip", "maxConnectionsPerClient",
             "clientWriteTimeoutMs", "maxBufferedAnswerBytes", "cache:maxBytes", "listenTls:0", "certFile", "bootstrap:0"],
            paths);
    }

    [Fact]
    public void Validate_ListenerWithoutCertificate_CertFileError()
    {
        PluginConfigError error = Assert.Single(Validate(new() { ["listenHttps:0"] = "127.0.0.1:8443" }));
        Assert.Equal("certFile", error.KeyPath);
        Assert.Contains("keyFile", error.Message);
    }

    [Fact]
    public void Validate_KeyFileReadableByOthers_Refused()
    {
        string directory = Directory.CreateTempSubdirectory("dns-dot-cert-").FullName;
        try
        {
            using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=dns.test", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            File.WriteAllText(Path.Combine(directory, "cert.pem"), certificate.ExportCertificatePem());
            string keyPath = Path.Combine(directory, "key.pem");
            File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            var settings = new Dictionary<string, string?> { ["listenTls:0"] = "127.0.0.1:8853", ["certFile"] = Path.Combine(directory, "cert.pem"), ["keyFile"] = keyPath };

            PluginConfigError error = Assert.Single(Validate(settings));
            Assert.Equal("keyFile", error.KeyPath);
            Assert.Contains("chmod 600", error.Message);

            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            Assert.Empty(Validate(settings));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Validate_WorldWritableRuleScript_RefusedAtItsRulesEntry()
    {
        string directory = Directory.CreateTempSubdirectory("dns-dot-rules-").FullName;
        try
        {
            string script = Path.Combine(directory, "rules.csx");
            File.WriteAllText(script, "Block(\"ads.test\");\n");
            File.SetUnixFileMode(script, (UnixFileMode)0b110_110_110);
            IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["rules:0"] = "rules.csx" }).Build();
            var context = new PluginValidationContext("dns-dot", configuration, directory);
            new DnsDotPlugin().Validate(context);

            PluginConfigError error = Assert.Single(context.Errors);
            Assert.Equal("rules:0", error.KeyPath);
            Assert.Contains("writable by group or others", error.Message);
            Assert.Contains(script, error.Message);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
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
