using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gateway.SchemaGen;
using Json.Schema;

namespace Gateway.Tests.Tools.SchemaGen;

/// <summary>gateway.schema.json: current with the options classes, accepts the configs we ship, rejects broken ones.</summary>
public sealed partial class GatewaySchemaTests
{
    private static readonly string Root = FindRoot();
    private static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromText(File.ReadAllText(Path.Combine(Root, SchemaGenerator.SchemaFileName))));

    [Fact]
    public void Schema_Committed_MatchesWhatTheOptionsClassesGenerate()
    {
        string committed = File.ReadAllText(Path.Combine(Root, SchemaGenerator.SchemaFileName));

        string generated = SchemaGenerator.Generate(Root);

        Assert.True(generated == committed, $"{SchemaGenerator.SchemaFileName} is stale (an options class or a schema.json fragment changed): run `{SchemaGenerator.RegenerateCommand}` and commit the result");
    }

    [Fact]
    public void ShippedConfigs_EveryFileNamingTheSchema_Validates()
    {
        List<string> files = ShippedConfigs().ToList();

        Assert.Contains(Path.Combine(Root, "gateway.yaml"), files);
        Assert.All(files, file => AssertValid(file, File.ReadAllText(file)));
    }

    [Theory]
    [InlineData("host:\n  tunn: { enabled: true }\n", "/host")]
    [InlineData("host:\n  tun: { enabled: maybe }\n", "/host/tun/enabled")]
    [InlineData("host:\n  tun: { mtu: 100 }\n", "/host/tun/mtu")]
    [InlineData("host:\n  logLevel: loud\n", "/host/logLevel")]
    [InlineData("dns-dot:\n  listen: [localhost]\n", "/dns-dot/listen")]
    [InlineData("dns-dot:\n  cache: { enabled: yes-please }\n", "/dns-dot/cache/enabled")]
    [InlineData("dns-dot:\n  upstreams: 1.1.1.1:853\n", "/dns-dot/upstreams")]
    [InlineData("http-proxy:\n  cache: { maxBytes: lots }\n", "/http-proxy/cache/maxBytes")]
    [InlineData("http-proxy:\n  keepAliveTimeout: 5\n", "/http-proxy")]
    [InlineData("wireguard:\n  peers:\n    - { allowedIps: [10.0.0.0/8] }\n", "/wireguard/peers/0")]
    [InlineData("my-plugin:\n  logLevel: chatty\n", "/my-plugin/logLevel")]
    [InlineData("host:\n  admin: { token: short }\n", "/host/admin/token")]
    [InlineData("host:\n  admin: { token: \"has spaces in the middle of it\" }\n", "/host/admin/token")]
    [InlineData("host:\n  admin: { token: 0123456789abcdef0123, tokenFile: admin.token }\n", "/host/admin/tokenFile")]
    [InlineData("host:\n  otlp: { endpoint: { url: x } }\n", "/host/otlp/endpoint")]
    [InlineData("host:\n  otlp: { endpoint: 127.0.0.1:4317 }\n", "/host/otlp/endpoint")]
    public void BrokenConfig_Rejected_AtTheBrokenKey(string yaml, string location)
    {
        EvaluationResults results = Evaluate(yaml);

        Assert.False(results.IsValid);
        Assert.Contains(Failures(results), failure => failure.StartsWith(location, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("host:\n  admin: { listen: 127.0.0.1:9090, tokenFile: /etc/gateway/admin.token }\n")]
    [InlineData("host:\n  admin: { listen: 127.0.0.1:9090, token: \"0123456789abcdef0123\" }\n")]
    [InlineData("host:\n  otlp: { endpoint: \"http://127.0.0.1:4317\", protocol: grpc }\n")]
    [InlineData("host:\n  otlp: { endpoint: \"https://collector.example.test:4318/v1/metrics\", protocol: http/protobuf }\n")]
    public void AdminTokenAndOtlpEndpoint_AsUsersWriteThem_Accepted(string yaml)
    {
        AssertValid("inline", yaml);
    }

    [Fact]
    public void ThirdPartySection_HostKeysAndOwnKeys_Accepted()
    {
        AssertValid("third-party", "my-plugin:\n  listen: 127.0.0.1:7000\n  logLevel: debug\n  greeting: hi\n");
    }

    [Fact]
    public void Generate_ThirdPartyPluginFolder_MergesItsFragmentWithTheHostKeys()
    {
        string plugins = Path.Combine(Path.GetTempPath(), "gateway-schema-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.Combine(plugins, "probe"));
        File.Copy(Path.Combine(Root, "templates", "gateway-plugin", "src", "GatewayPlugin1", "schema.json"), Path.Combine(plugins, "probe", "schema.json"));
        File.WriteAllText(Path.Combine(plugins, "probe", "schema.json"), File.ReadAllText(Path.Combine(plugins, "probe", "schema.json")).Replace("gateway-plugin-id", "probe"));

        JsonSchema merged = JsonSchema.FromText(SchemaGenerator.Generate(Root, [plugins]));

        Assert.True(Evaluate(merged, "probe:\n  listen: [127.0.0.1:7000]\n  logLevel: debug\n  greeting: hi\n").IsValid);
        Assert.False(Evaluate(merged, "probe:\n  maxLineBytes: 5\n").IsValid);
        Assert.False(Evaluate(merged, "probe:\n  greting: typo\n").IsValid);
        Directory.Delete(plugins, recursive: true);
    }

    /// <summary>Every file of the repository with a yaml-language-server line that names gateway.schema.json.</summary>
    private static IEnumerable<string> ShippedConfigs()
    {
        foreach (string file in Directory.EnumerateFiles(Root, "*.yaml", SearchOption.AllDirectories))
        {
            if (file.Contains("/bin/", StringComparison.Ordinal) || file.Contains("/obj/", StringComparison.Ordinal) || file.Contains("/.git/", StringComparison.Ordinal))
            {
                continue;
            }

            string? first = File.ReadLines(file).FirstOrDefault();
            if (first is not null && SchemaLine().Match(first) is { Success: true } line)
            {
                // The line must point at the real file from where the config sits, or editors find nothing.
                string target = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, line.Groups["path"].Value));
                Assert.True(target == Path.Combine(Root, SchemaGenerator.SchemaFileName), $"{file}: $schema={line.Groups["path"].Value} does not lead to {SchemaGenerator.SchemaFileName}");
                yield return file;
            }
        }
    }

    private static void AssertValid(string name, string yaml)
    {
        EvaluationResults results = Evaluate(yaml);
        Assert.True(results.IsValid, $"{name} does not validate against {SchemaGenerator.SchemaFileName}:\n{string.Join('\n', Failures(results))}");
    }

    private static EvaluationResults Evaluate(string yaml) => Evaluate(Schema.Value, yaml);

    private static EvaluationResults Evaluate(JsonSchema schema, string yaml) =>
        schema.Evaluate(JsonSerializer.SerializeToElement(YamlJson.Convert(yaml) ?? new JsonObject()), new EvaluationOptions { OutputFormat = OutputFormat.List });

    private static IEnumerable<string> Failures(EvaluationResults results) =>
        (results.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .Select(d => $"{d.InstanceLocation}: {string.Join("; ", d.Errors!.Values)}");

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

    [GeneratedRegex(@"^#\s*yaml-language-server:\s*\$schema=(?<path>\S+)")]
    private static partial Regex SchemaLine();
}
