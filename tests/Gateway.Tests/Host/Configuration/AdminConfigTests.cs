using Gateway.Host.Configuration;

namespace Gateway.Tests.Host.Configuration;

/// <summary>host.admin's token, tokenFile and allowedHosts, and host.otlp (issues 13 and 17).</summary>
public sealed class AdminConfigTests : IDisposable
{
    private const string Token = "0123456789abcdef0123";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "gateway-adminconfig-" + Guid.NewGuid().ToString("N")[..12]);

    public AdminConfigTests() => Directory.CreateDirectory(_directory);

    private string File => Path.Combine(_directory, "gateway.yaml");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Read_NonLoopbackListenWithoutToken_IsAnErrorAtListen()
    {
        List<string> errors = Errors("host:\n  admin:\n    listen: 0.0.0.0:9090\n");

        string error = Assert.Single(errors);
        Assert.StartsWith($"{File}:3:5: host.admin.listen: '0.0.0.0:9090' is not a loopback address: set host.admin.tokenFile", error);
    }

    [Theory]
    [InlineData("127.0.0.1:9090")]
    [InlineData("127.0.0.53:9090")]
    [InlineData("[::1]:9090")]
    public void Read_LoopbackListenWithoutToken_IsAccepted(string listen)
    {
        GatewayConfig config = Read($"host:\n  admin:\n    listen: \"{listen}\"\n");

        Assert.Null(config.Host.Admin.Token);
    }

    [Fact]
    public void Read_NonLoopbackListenWithToken_IsAccepted()
    {
        GatewayConfig config = Read($"host:\n  admin: {{ listen: 192.0.2.1:9090, token: {Token} }}\n");

        Assert.Equal(Token, config.Host.Admin.Token);
    }

    [Fact]
    public void Read_ShortToken_IsAnError()
    {
        string error = Assert.Single(Errors("host:\n  admin:\n    listen: 127.0.0.1:9090\n    token: short\n"));

        Assert.StartsWith($"{File}:4:5: host.admin.token: the token must be at least 16 characters", error);
    }

    [Fact]
    public void Read_TokenFile0600_ReadsFirstLine()
    {
        string tokenFile = WriteTokenFile("admin.token", Token + "\nignored\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);

        GatewayConfig config = Read("host:\n  admin:\n    listen: 0.0.0.0:9090\n    tokenFile: admin.token\n");

        Assert.Equal(Token, config.Host.Admin.Token);
        Assert.Equal(tokenFile, config.Host.Admin.TokenFile);
    }

    [Fact]
    public void Read_TokenFileReadableByOthers_IsRefusedWithLocation()
    {
        WriteTokenFile("admin.token", Token, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        List<string> errors = Errors("host:\n  admin:\n    listen: 0.0.0.0:9090\n    tokenFile: admin.token\n");

        Assert.Contains(errors, e => e.StartsWith($"{File}:4:5: host.admin.tokenFile: {Path.Combine(_directory, "admin.token")} is accessible by group or others (mode 0644)", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("host.admin.listen: '0.0.0.0:9090' is not a loopback address", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_TokenFileMissing_SaysHowToCreateIt()
    {
        string error = Assert.Single(Errors("host:\n  admin:\n    listen: 127.0.0.1:9090\n    tokenFile: none.token\n"));

        Assert.Contains("does not exist (create it with: openssl rand -base64 32", error);
    }

    [Fact]
    public void Read_TokenAndTokenFile_IsAnError()
    {
        string error = Assert.Single(Errors($"host:\n  admin:\n    listen: 127.0.0.1:9090\n    token: {Token}\n    tokenFile: x\n"));

        Assert.Contains("host.admin.tokenFile: give token or tokenFile, not both", error);
    }

    [Fact]
    public void Read_AllowedHosts_AreLowerCased_PortsRefused()
    {
        List<string> errors = Errors("host:\n  admin:\n    listen: 127.0.0.1:9090\n    allowedHosts: [Gateway.LAN, \"gw.lan:9090\"]\n");

        Assert.Contains(errors, e => e.Contains("host.admin.allowedHosts[1]: 'gw.lan:9090' is not a host name", StringComparison.Ordinal));
        Assert.Equal(["gateway.lan"], Read("host:\n  admin:\n    listen: 127.0.0.1:9090\n    allowedHosts: [Gateway.LAN]\n").Host.Admin.AllowedHosts);
    }

    [Fact]
    public void Read_Otlp_ParsesEndpointProtocolIntervalHeaders()
    {
        GatewayConfig config = Read("host:\n  otlp:\n    endpoint: http://127.0.0.1:4318\n    protocol: http/protobuf\n    intervalSeconds: 5\n    headers: { x-api-key: abc }\n");

        Assert.Equal(new Uri("http://127.0.0.1:4318"), config.Host.Otlp.Endpoint);
        Assert.Equal("http/protobuf", config.Host.Otlp.Protocol);
        Assert.Equal(5, config.Host.Otlp.IntervalSeconds);
        Assert.Equal("abc", config.Host.Otlp.Headers["x-api-key"]);
    }

    [Fact]
    public void Read_OtlpBadValues_AreErrorsWithLocations()
    {
        List<string> errors = Errors("host:\n  otlp:\n    endpoint: 127.0.0.1:4317\n    protocol: udp\n    intervalSeconds: 0\n");

        Assert.Equal(3, errors.Count);
        Assert.StartsWith($"{File}:3:5: host.otlp.endpoint: '127.0.0.1:4317' is not an http:// or https:// URL", errors[0]);
        Assert.StartsWith($"{File}:4:5: host.otlp.protocol: 'udp' is not grpc or http/protobuf", errors[1]);
        Assert.StartsWith($"{File}:5:5: host.otlp.intervalSeconds:", errors[2]);
    }

    private string WriteTokenFile(string name, string content, UnixFileMode mode)
    {
        string path = Path.Combine(_directory, name);
        System.IO.File.WriteAllText(path, content);
        if (!OperatingSystem.IsWindows())
        {
            System.IO.File.SetUnixFileMode(path, mode);
        }

        return path;
    }

    private GatewayConfig Read(string yaml) => GatewayConfigReader.Read(ConfigDocument.Parse(File, yaml), "/app");

    private List<string> Errors(string yaml)
    {
        var errors = new List<string>();
        try
        {
            Read(yaml);
        }
        catch (ConfigException ex)
        {
            errors.AddRange(ex.Errors.Select(e => e.ToString()));
        }

        return errors;
    }
}
