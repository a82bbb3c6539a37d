using System.Text.Json;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// The published gateway with <c>auth:</c> on (users written by Apache's <c>htpasswd -B</c>, mode 0600) and a JSON
/// access log, a python origin on 127.0.0.1.
/// </summary>
public sealed class ProxyAuthFixture : IAsyncLifetime
{
    private BackgroundProcess _origin = null!;

    public string Www { get; } = Directory.CreateTempSubdirectory("http-proxy-auth-").FullName;

    public string UsersFile => Path.Combine(Www, "users.htpasswd");

    public string AccessLog => Path.Combine(Www, "access.log");

    public GatewayProcess Gateway { get; private set; } = null!;

    public int ProxyPort { get; } = TestOrigin.FreePort();

    public int OriginPort { get; } = TestOrigin.FreePort();

    public int AdminPort { get; } = TestOrigin.FreePort();

    public const string AdminToken = "e2e-http-proxy-admin-token-0123456789";

    public async Task InitializeAsync()
    {
        await File.WriteAllBytesAsync(Path.Combine(Www, "1k.bin"), TestOrigin.Payload(1024));
        await ProcessRunner.ShCheckedAsync($"htpasswd -cbB {UsersFile} alice 's3cret:with colon' && htpasswd -bB {UsersFile} bob hunter2 && chmod 600 {UsersFile}");
        string tokenFile = Path.Combine(Www, "admin.token");
        await File.WriteAllTextAsync(tokenFile, AdminToken + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        _origin = BackgroundProcess.Start("python3", ["-m", "http.server", OriginPort.ToString(), "--bind", "127.0.0.1", "--directory", Www], name: "origin");
        Gateway = await GatewayProcess.StartAsync(
            $"host:\n  admin:\n    listen: 127.0.0.1:{AdminPort}\n    tokenFile: {tokenFile}\n" +
            $"http-proxy:\n  listen: [\"127.0.0.1:{ProxyPort}\"]\n" +
            $"  auth: {{ realm: \"gateway test\", usersFile: \"{UsersFile}\" }}\n" +
            $"  accessLog: {{ path: \"{AccessLog}\", format: json }}\n");
        await ProcessRunner.ShCheckedAsync(
            $"for i in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:{OriginPort}/1k.bin && exit 0; sleep 0.2; done; exit 1", TimeSpan.FromSeconds(60));
        // One check warms bcrypt's code (the first checks of a fresh process run unoptimised, ~1 s on a busy machine).
        await ProcessRunner.ShAsync($"curl -s --interface 127.0.0.99 -x http://127.0.0.1:{ProxyPort} --proxy-user bob:hunter2 -o /dev/null http://127.0.0.1:{OriginPort}/1k.bin", TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await _origin.DisposeAsync();
        Directory.Delete(Www, recursive: true);
    }
}

/// <summary>
/// Proxy authentication (issue #18) with real clients: curl's <c>--proxy-user</c> over HTTP (407 + Proxy-Authenticate
/// without or with wrong credentials), CONNECT, SOCKS5 username/password (RFC 1929), the user in the access log, and
/// a client guessing passwords slowed down while another address is served at once.
/// </summary>
public sealed class GatewayProxyAuthTests(ProxyAuthFixture fixture) : IClassFixture<ProxyAuthFixture>
{
    private static readonly TimeSpan CurlTimeout = TimeSpan.FromSeconds(120);
    private const string Alice = "'alice:s3cret:with colon'";

    private string Proxy => $"127.0.0.1:{fixture.ProxyPort}";

    private string Url => $"http://127.0.0.1:{fixture.OriginPort}/1k.bin";

    [Fact]
    public async Task Http_NoCredentials_Gets407WithBasicChallenge()
    {
        CommandResult result = await CurlAsync($"--interface 127.0.0.11 -x http://{Proxy} -D - -o /dev/null {Url}");

        Assert.StartsWith("HTTP/1.1 407", result.StdOut);
        Assert.Contains("Proxy-Authenticate: Basic realm=\"gateway test\", charset=\"UTF-8\"", result.StdOut);
    }

    [Fact]
    public async Task Http_WrongPasswordRefused_RightOneServedIntact_UserInAccessLog()
    {
        string output = Path.Combine(fixture.Www, $"got-{Guid.NewGuid():N}");

        CommandResult wrong = await CurlAsync($"--interface 127.0.0.12 -x http://{Proxy} --proxy-user alice:s3cret -o /dev/null -w '%{{http_code}}' {Url}");
        CommandResult unknown = await CurlAsync($"--interface 127.0.0.12 -x http://{Proxy} --proxy-user mallory:s3cret -o /dev/null -w '%{{http_code}}' {Url}");
        CommandResult right = await CurlAsync($"--interface 127.0.0.12 -x http://{Proxy} --proxy-user {Alice} -o {output} -w '%{{http_code}}' {Url}?right");

        Assert.Equal("407", wrong.StdOut);
        Assert.Equal("407", unknown.StdOut);
        Assert.Equal("200", right.StdOut);
        Assert.Equal(TestOrigin.Payload(1024), await File.ReadAllBytesAsync(output));
        JsonElement line = await AccessLogLineAsync(l => l.GetProperty("url").GetString() == $"{Url}?right");
        Assert.Equal("alice", line.GetProperty("user").GetString());
        Assert.Equal("GET", line.GetProperty("method").GetString());
        Assert.Equal(200, line.GetProperty("status").GetInt32());
        Assert.DoesNotContain("s3cret", await File.ReadAllTextAsync(fixture.AccessLog));
        Assert.DoesNotContain("s3cret", fixture.Gateway.Output);
    }

    [Fact]
    public async Task Connect_RightCredentials_TunnelServed_LoggedAsTunnelWithUser()
    {
        CommandResult result = await CurlAsync($"--interface 127.0.0.13 -p -x http://{Proxy} --proxy-user bob:hunter2 -o /dev/null -w '%{{http_connect}} %{{http_code}} %{{size_download}}' {Url}");

        Assert.Equal("200 200 1024", result.StdOut);
        JsonElement line = await AccessLogLineAsync(l => l.GetProperty("method").GetString() == "CONNECT" && l.TryGetProperty("user", out JsonElement u) && u.GetString() == "bob");
        Assert.Equal("TCP_TUNNEL", line.GetProperty("result").GetString());
        Assert.Equal($"127.0.0.1:{fixture.OriginPort}", line.GetProperty("url").GetString());
    }

    [Fact]
    public async Task Socks5_UserPassword_RightServed_WrongAndMissingRefused_SocksLogged()
    {
        string output = Path.Combine(fixture.Www, $"got-{Guid.NewGuid():N}");

        CommandResult none = await CurlAsync($"--interface 127.0.0.14 --socks5-hostname {Proxy} -o /dev/null {Url}");
        CommandResult wrong = await CurlAsync($"--interface 127.0.0.14 -x socks5h://bob:wrong@{Proxy} -o /dev/null {Url}");
        CommandResult right = await CurlAsync($"--interface 127.0.0.14 -x socks5h://bob:hunter2@{Proxy} -o {output} -w '%{{http_code}}' {Url}?socks");
        CommandResult rightByIp = await CurlAsync($"--interface 127.0.0.14 --socks5 {Proxy} --proxy-user bob:hunter2 -o /dev/null -w '%{{http_code}}' {Url}");

        Assert.NotEqual(0, none.ExitCode);
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.True(right.StdOut == "200", right.Output);
        Assert.True(rightByIp.StdOut == "200", rightByIp.Output);
        Assert.Equal(TestOrigin.Payload(1024), await File.ReadAllBytesAsync(output));
        JsonElement line = await AccessLogLineAsync(l => l.GetProperty("protocol").GetString() == "socks5" && l.TryGetProperty("socksReply", out JsonElement reply) && reply.GetInt32() == 0);
        Assert.Equal("bob", line.GetProperty("user").GetString());
        Assert.Equal("TCP_TUNNEL", line.GetProperty("result").GetString());
    }

    [Theory]
    [InlineData("pipelined", "127.0.0.16")]
    [InlineData("bytewise", "127.0.0.17")]
    public async Task Socks5_GreetingCredentialsRequestPipelinedOrSplitByteByByte_Served(string mode, string source)
    {
        CommandResult result = await ProcessRunner.ShAsync(
            $"python3 {Path.Combine(AppContext.BaseDirectory, "HttpProxy", "socks_client.py")} fetch {mode} {Proxy.Replace(':', ' ')} 127.0.0.1 {fixture.OriginPort} /1k.bin bob hunter2 {source}",
            TimeSpan.FromSeconds(120));

        Assert.Equal($"reply 0 status 200 sha256 {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(TestOrigin.Payload(1024)))}", result.StdOut.Trim());
    }

    [Fact]
    public async Task Socks4a_WithAuthOn_IsRefused()
    {
        CommandResult result = await CurlAsync($"--interface 127.0.0.15 --socks4a {Proxy} -o /dev/null {Url}");

        Assert.NotEqual(0, result.ExitCode);
    }

    [Fact]
    public async Task HundredWrongPasswords_FromOneClient_AreSlowedDown_OtherClientServedAtOnce()
    {
        // 100 guesses at once from 127.0.0.21, each given 3 s: past the 5 free failures they are checked one per
        // second, so only a handful are answered in time (unthrottled, all 100 are); a right password from 127.0.0.22
        // meanwhile is served without waiting behind them (behind them it would take over 90 s).
        string script = Path.Combine(AppContext.BaseDirectory, "HttpProxy", "auth_guesses.py");
        Task<CommandResult> guesses = ProcessRunner.ShAsync($"python3 {script} 127.0.0.1 {fixture.ProxyPort} 127.0.0.21 {Url} 100 3", CurlTimeout);
        await Task.Delay(1000);
        CommandResult other = await CurlAsync($"--interface 127.0.0.22 -x http://{Proxy} --proxy-user {Alice} -o /dev/null -w '%{{http_code}} %{{time_total}}' {Url}");
        CommandResult result = await guesses;

        // Without the slow-down all 100 are answered 407 in well under a second.
        Assert.True(result.ExitCode == 0, result.Output);
        string[] lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        int answered = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal("other 0", lines[1]);
        Assert.True(answered is >= 1 and <= 15, result.StdOut + fixture.Gateway.Output[^Math.Min(3000, fixture.Gateway.Output.Length)..]);
        string[] otherResult = other.StdOut.Split(' ');
        Assert.Equal("200", otherResult[0]);
        Assert.True(double.Parse(otherResult[1], System.Globalization.CultureInfo.InvariantCulture) < 5.0, other.StdOut);
    }

    [Fact]
    public async Task StatsApi_AfterTraffic_CountsRequestsSocksAndAuthFailures()
    {
        await CurlAsync($"--interface 127.0.0.41 -x http://{Proxy} --proxy-user bob:wrong -o /dev/null {Url}");
        await CurlAsync($"--interface 127.0.0.41 -x http://{Proxy} --proxy-user bob:hunter2 -o /dev/null {Url}");
        await CurlAsync($"--interface 127.0.0.41 -x socks5h://bob:hunter2@{Proxy} -o /dev/null {Url}");

        CommandResult result = await ProcessRunner.ShAsync(
            $"curl -s -S -H 'Authorization: Bearer {ProxyAuthFixture.AdminToken}' http://127.0.0.1:{fixture.AdminPort}/api/v1/plugins/http-proxy/stats", CurlTimeout);

        JsonElement stats = JsonDocument.Parse(result.StdOut).RootElement;
        Assert.True(stats.GetProperty("requests").GetInt64() >= 2, result.StdOut);
        Assert.True(stats.GetProperty("requestsPerSecond").GetDouble() > 0, result.StdOut);
        Assert.True(stats.GetProperty("socksRequests").GetInt64() >= 1, result.StdOut);
        Assert.True(stats.GetProperty("authFailures").GetInt64() >= 1, result.StdOut);
        Assert.True(stats.GetProperty("originRequests").GetInt64() >= 1, result.StdOut);
        Assert.True(stats.GetProperty("activeConnections").GetInt64() >= 0, result.StdOut);
        Assert.Equal(0, stats.GetProperty("activeTunnels").GetInt64());
        JsonElement cache = stats.GetProperty("cache");
        Assert.True(cache.GetProperty("enabled").GetBoolean());
        Assert.True(cache.GetProperty("hits").GetInt64() + cache.GetProperty("misses").GetInt64() >= 1, result.StdOut);
        Assert.True(cache.TryGetProperty("hitRatio", out _) && cache.TryGetProperty("entries", out _) && cache.TryGetProperty("bytes", out _), result.StdOut);
    }

    private async Task<JsonElement> AccessLogLineAsync(Func<JsonElement, bool> match)
    {
        // Lines are written by a background task: wait for the one we want (at most 10 s).
        for (int i = 0; i < 100; i++)
        {
            if (File.Exists(fixture.AccessLog))
            {
                foreach (string text in await File.ReadAllLinesAsync(fixture.AccessLog))
                {
                    JsonElement line = JsonDocument.Parse(text).RootElement;
                    if (match(line))
                    {
                        return line;
                    }
                }
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException("no matching access log line in:\n" + (File.Exists(fixture.AccessLog) ? await File.ReadAllTextAsync(fixture.AccessLog) : "(no file)"));
    }

    private static Task<CommandResult> CurlAsync(string arguments) => ProcessRunner.ShAsync($"curl -s -S --max-time 30 {arguments}", CurlTimeout);
}
