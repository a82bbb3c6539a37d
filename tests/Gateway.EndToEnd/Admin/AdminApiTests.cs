using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.EndToEnd.Host;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Admin;

/// <summary>
/// The JSON API of the published gateway (issue 17): /api/v1/status, /api/v1/plugins, /api/v1/config/reload and a
/// plugin's routes (the sample echo plugin's), each with and without the token from a tokenFile (issue 13).
/// </summary>
public sealed class AdminApiTests : IAsyncLifetime
{
    private const string Token = "e2e-admin-token-0123456789abcdef";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = Patience };
    private GatewayProcess _gateway = null!;
    private int _adminPort;
    private int _echoPort;
    private string _extra = null!;
    private string _tokenFile = null!;

    public async Task InitializeAsync()
    {
        _extra = Path.Combine(Path.GetTempPath(), "gateway-e2e", "api-" + Guid.NewGuid().ToString("N")[..12]);
        EchoClient.CopyFolder(await GatewayBuild.EchoPluginDirectoryAsync(), Path.Combine(_extra, "echo"));
        _adminPort = EchoClient.FreePort();
        _echoPort = EchoClient.FreePort();
        _tokenFile = await AdminToken.WriteAsync(_extra, Token);
        _gateway = await GatewayProcess.StartAsync(await ConfigAsync());
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        _http.Dispose();
    }

    [Theory]
    [InlineData("GET", "/api/v1/status")]
    [InlineData("GET", "/api/v1/plugins")]
    [InlineData("POST", "/api/v1/config/reload")]
    [InlineData("GET", "/api/v1/plugins/echo/stats")]
    [InlineData("POST", "/api/v1/plugins/echo/greeting")]
    [InlineData("GET", "/api/v1/plugins/nope/x")]
    public async Task Endpoint_WithoutToken_Returns401JsonError(string method, string path)
    {
        using HttpResponseMessage response = await SendAsync(method, path, token: null);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("a token is required", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Status_WithToken_HasVersionUptimeConfigFileAndListeners()
    {
        using JsonDocument status = await GetJsonAsync("/api/v1/status");
        JsonElement root = status.RootElement;

        Assert.False(string.IsNullOrEmpty(root.GetProperty("version").GetString()));
        Assert.True(root.GetProperty("uptimeSeconds").GetDouble() > 0);
        Assert.Equal(_gateway.ConfigPath, root.GetProperty("configFile").GetString());
        Assert.True(root.GetProperty("ready").GetBoolean());
        Assert.False(root.TryGetProperty("lastReload", out _));
        string[] listeners = root.GetProperty("listeners").EnumerateArray()
            .Select(l => $"{l.GetProperty("owner").GetString()} {l.GetProperty("protocol").GetString()} {l.GetProperty("endpoint").GetString()} {l.GetProperty("kind").GetString()}")
            .ToArray();
        Assert.Contains($"echo udp 127.0.0.1:{_echoPort} hostSocket", listeners);
        Assert.Contains($"echo tcp 127.0.0.1:{_echoPort} hostSocket", listeners);
        Assert.Contains($"admin http 127.0.0.1:{_adminPort} admin", listeners);
    }

    [Fact]
    public async Task Plugins_WithToken_ListsEveryPluginWithStateVersionAndRoutes()
    {
        using JsonDocument plugins = await GetJsonAsync("/api/v1/plugins");
        Dictionary<string, JsonElement> byId = plugins.RootElement.GetProperty("plugins").EnumerateArray().ToDictionary(p => p.GetProperty("id").GetString()!);

        Assert.Equal(["dns-dot", "echo", "http-proxy", "wireguard"], byId.Keys.Order().ToArray());
        Assert.All(byId.Values, p => Assert.Equal("running", p.GetProperty("state").GetString()));
        Assert.All(byId.Values, p => Assert.False(string.IsNullOrEmpty(p.GetProperty("version").GetString())));
        Assert.Equal(["GET fail", "GET stats", "POST greeting"], byId["echo"].GetProperty("routes").EnumerateArray().Select(r => r.GetString()!).ToArray());
    }

    [Fact]
    public async Task Reload_GoodThenBrokenFile_AppliesThenReports422WithFileLineColumnAndKeepsServing()
    {
        using HttpResponseMessage good = await SendAsync("POST", "/api/v1/config/reload");
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        Assert.True(JsonDocument.Parse(await good.Content.ReadAsStringAsync()).RootElement.GetProperty("ok").GetBoolean());

        await File.WriteAllTextAsync(_gateway.ConfigPath, (await ConfigAsync()).Replace("  listen: [127.0.0.1:" + _echoPort + "]", "  listen: [127.0.0.1:notaport]", StringComparison.Ordinal));
        using HttpResponseMessage bad = await SendAsync("POST", "/api/v1/config/reload");

        Assert.Equal((HttpStatusCode)422, bad.StatusCode);
        JsonElement report = JsonDocument.Parse(await bad.Content.ReadAsStringAsync()).RootElement;
        Assert.False(report.GetProperty("ok").GetBoolean());
        Assert.Equal("api", report.GetProperty("trigger").GetString());
        JsonElement error = Assert.Single(report.GetProperty("errors").EnumerateArray());
        Assert.Equal(_gateway.ConfigPath, error.GetProperty("file").GetString());
        Assert.Equal(8, error.GetProperty("line").GetInt32());
        Assert.Equal("echo.listen[0]", error.GetProperty("key").GetString());
        Assert.StartsWith($"{_gateway.ConfigPath}:8:", error.GetProperty("text").GetString());
        Assert.Contains("config rejected", report.GetProperty("error").GetString());

        // The rejection is the status's last reload too (the file watcher may have reported it first), and echo still answers.
        using JsonDocument status = await GetJsonAsync("/api/v1/status");
        JsonElement lastReload = status.RootElement.GetProperty("lastReload");
        Assert.False(lastReload.GetProperty("ok").GetBoolean());
        Assert.Contains(":8:", lastReload.GetProperty("errors")[0].GetProperty("text").GetString());
        Assert.Equal("echo: still", await EchoClient.UdpUntilAsync(_echoPort, "still", "echo: ", Patience));
    }

    [Fact]
    public async Task Reload_WithGet_Returns405AllowPost()
    {
        using HttpResponseMessage response = await SendAsync("GET", "/api/v1/config/reload");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(["POST"], response.Content.Headers.Allow);
    }

    [Fact]
    public async Task PluginRoute_Stats_CountsTheEchoedDatagrams()
    {
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("echo: n" + i, await EchoClient.UdpUntilAsync(_echoPort, "n" + i, "echo: ", Patience));
        }

        using JsonDocument stats = await GetJsonAsync("/api/v1/plugins/echo/stats");

        Assert.True(stats.RootElement.GetProperty("datagrams").GetInt64() >= 3);
        Assert.Equal("echo: ", stats.RootElement.GetProperty("greeting").GetString());
    }

    [Fact]
    public async Task PluginRoute_PostGreeting_ChangesTheEchoAnswer()
    {
        using HttpResponseMessage response = await SendAsync("POST", "/api/v1/plugins/echo/greeting", body: "{\"greeting\":\"hey: \"}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hey: you", await EchoClient.UdpUntilAsync(_echoPort, "you", "hey: ", Patience));
    }

    [Fact]
    public async Task PluginRoute_BadJson_IsThePluginsOwn400()
    {
        using HttpResponseMessage response = await SendAsync("POST", "/api/v1/plugins/echo/greeting", body: "{nope");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task PluginRoute_HandlerThrows_Returns500GenericAndLogsPluginId()
    {
        using HttpResponseMessage response = await SendAsync("GET", "/api/v1/plugins/echo/fail");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        string error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;
        Assert.DoesNotContain("always throws", error);
        Assert.StartsWith("plugin 'echo' failed to answer", error);
        await _gateway.WaitForOutputAsync("plugin echo: its admin route GET fail threw (echo: the fail route always throws)", Patience);
    }

    [Fact]
    public async Task PluginRoute_WrongMethod_Returns405WithAllow()
    {
        using HttpResponseMessage response = await SendAsync("DELETE", "/api/v1/plugins/echo/stats");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(["GET"], response.Content.Headers.Allow);
    }

    [Theory]
    [InlineData("/api/v1/plugins/echo/nothing", "plugin 'echo' has no route 'nothing'")]
    [InlineData("/api/v1/plugins/not-here/stats", "plugin 'not-here' is not loaded")]
    [InlineData("/api/v2/status", "no API at /api/v2/status")]
    public async Task UnknownRouteOrPlugin_Returns404JsonError(string path, string message)
    {
        using HttpResponseMessage response = await SendAsync("GET", path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.StartsWith(message, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task PluginRoute_BodyOverLimit_Returns413()
    {
        string big = "{\"greeting\":\"" + new string('a', Gateway.Sdk.Api.ApiRequest.MaxBodyBytes) + "\"}";

        using HttpResponseMessage response = await SendAsync("POST", "/api/v1/plugins/echo/greeting", body: big);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task CliStatus_PrintsTheSameNumbersAsTheApi()
    {
        using JsonDocument status = await GetJsonAsync("/api/v1/status");
        using JsonDocument plugins = await GetJsonAsync("/api/v1/plugins");

        CommandResult cli = await GatewayCliAsync("status", "--config", _gateway.ConfigPath);

        Assert.True(cli.ExitCode == 0, cli.Output);
        Assert.Contains($"gateway {status.RootElement.GetProperty("version").GetString()} at http://127.0.0.1:{_adminPort}/", cli.StdOut);
        Assert.Contains($"config {_gateway.ConfigPath}: ", cli.StdOut);
        foreach (JsonElement plugin in plugins.RootElement.GetProperty("plugins").EnumerateArray())
        {
            Assert.Matches($@"\n  {plugin.GetProperty("id").GetString()} +{plugin.GetProperty("state").GetString()} +{System.Text.RegularExpressions.Regex.Escape(plugin.GetProperty("version").GetString()!)}", cli.StdOut);
        }

        foreach (JsonElement listener in status.RootElement.GetProperty("listeners").EnumerateArray())
        {
            Assert.Matches($@"\n  {listener.GetProperty("owner").GetString()} +{listener.GetProperty("protocol").GetString()} +{listener.GetProperty("endpoint").GetString()} \({listener.GetProperty("kind").GetString()}\)", cli.StdOut);
        }

        // Uptime: the CLI's seconds lie between two API reads around it.
        double before = status.RootElement.GetProperty("uptimeSeconds").GetDouble();
        using JsonDocument after = await GetJsonAsync("/api/v1/status");
        double printed = double.Parse(System.Text.RegularExpressions.Regex.Match(cli.StdOut, @"\((\d+) s\)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(printed, Math.Floor(before), Math.Ceiling(after.RootElement.GetProperty("uptimeSeconds").GetDouble()));
    }

    [Fact]
    public async Task CliStatus_Json_IsTheApisDocuments()
    {
        CommandResult cli = await GatewayCliAsync("status", "--json", "--config", _gateway.ConfigPath);

        Assert.True(cli.ExitCode == 0, cli.Output);
        using JsonDocument printed = JsonDocument.Parse(cli.StdOut);
        using JsonDocument plugins = await GetJsonAsync("/api/v1/plugins");
        Assert.Equal(plugins.RootElement.GetRawText(), printed.RootElement.GetProperty("plugins").GetRawText());
    }

    [Theory]
    [InlineData(1, "status", "--admin", "ADMIN", "--token", "wrong-token-0123456789")]
    [InlineData(1, "status", "--admin", "127.0.0.1:1", "--token", Token)]
    [InlineData(2, "status", "--config", "/nonexistent/gateway.yaml")]
    public async Task CliStatus_Failures_ExitWithDocumentedCodes(int exitCode, params string[] arguments)
    {
        string[] args = arguments.Select(a => a == "ADMIN" ? $"http://127.0.0.1:{_adminPort}" : a).ToArray();

        CommandResult cli = await GatewayCliAsync(args);

        Assert.True(cli.ExitCode == exitCode, $"exit {cli.ExitCode}: {cli.Output}");
        Assert.NotEmpty(cli.StdErr.Trim());
    }

    [Fact]
    public async Task CliPeers_WireGuardLoadedNoInterface_SaysOffAndExits0()
    {
        // The wireguard plugin is loaded (its route answers) but this config has no wireguard section.
        using JsonDocument peers = await GetJsonAsync("/api/v1/plugins/wireguard/peers");
        Assert.False(peers.RootElement.TryGetProperty("publicKey", out _));

        CommandResult cli = await GatewayCliAsync("peers", "--config", _gateway.ConfigPath);

        Assert.True(cli.ExitCode == 0, cli.Output);
        Assert.Contains("interface: off", cli.StdOut);
    }

    private static async Task<CommandResult> GatewayCliAsync(params string[] arguments) =>
        await ProcessRunner.RunAsync(Path.Combine(await GatewayBuild.GatewayDirectoryAsync(), "gateway"), arguments, TimeSpan.FromMinutes(1));

    private async Task<string> ConfigAsync() => $"""
        host:
          plugins: ["{Path.Combine(await GatewayBuild.GatewayDirectoryAsync(), "plugins")}", "{_extra}"]
          admin:
            listen: 127.0.0.1:{_adminPort}
            tokenFile: {_tokenFile}
        echo:
          greeting: "echo: "
          listen: [127.0.0.1:{_echoPort}]
        """;

    private async Task<JsonDocument> GetJsonAsync(string path)
    {
        using HttpResponseMessage response = await SendAsync("GET", path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    }

    private Task<HttpResponseMessage> SendAsync(string method, string path, string? token = Token, string? body = null)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), $"http://127.0.0.1:{_adminPort}{path}");
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        return _http.SendAsync(request);
    }
}
