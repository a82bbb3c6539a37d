using Gateway.Plugins.HttpProxy.Auth;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Logging;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.HttpProxy;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class ProxyAuthTests
{
    // htpasswd -nbB alice s3cret
    private const string AliceLine = "alice:$2y$05$HD7VWIvHgr9y5dLl8S8Dx.rJDnge/QXdYkWFxurcv0d2D9phAZSKG";

    [Theory]
    [InlineData("bob:$apr1$9Z7dd9dE$GqSXfyhvJ3ZhXwG3bcn5P/", "line 2: user 'bob' has a MD5 entry")]
    [InlineData("bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "line 2: user 'bob' has a SHA-1 entry")]
    [InlineData("bob:password", "line 2: user 'bob' has a plain-text entry")]
    [InlineData("bob:rqXexS6ZhobKA", "line 2: user 'bob' has a crypt(3) or plain-text entry")]
    [InlineData("bob", "line 2: expected user:hash")]
    [InlineData(AliceLine, "line 2: user 'alice' is listed twice")]
    public void Parse_NonBcryptOrDuplicateEntry_RefusedWithLineNumber(string second, string expected)
    {
        Dictionary<string, string> users = [];

        string? error = HtpasswdParser.Parse([AliceLine, second], users);

        Assert.NotNull(error);
        Assert.StartsWith(expected, error);
    }

    [Fact]
    public void Parse_BcryptLinesCommentsAndBlanks_Accepted()
    {
        Dictionary<string, string> users = [];

        string? error = HtpasswdParser.Parse(["# users", "", AliceLine + "\r"], users);

        Assert.Null(error);
        Assert.Equal(["alice"], users.Keys);
    }

    [Fact]
    public async Task CheckAsync_RightWrongAndUnknown_AnsweredAsBcryptSays()
    {
        using ProxyAuthenticator auth = ProxyAuthenticator.Create(new ProxyAuthOptions { Users = [AliceLine] }, "/tmp", NullLogger.Instance);
        NetAddress client = NetAddress.Parse("192.0.2.1");

        Assert.True(await auth.CheckAsync(client, "alice", "s3cret", CancellationToken.None));
        Assert.True(await auth.CheckAsync(client, "alice", "s3cret", CancellationToken.None));
        Assert.False(await auth.CheckAsync(client, "alice", "S3cret", CancellationToken.None));
        Assert.False(await auth.CheckAsync(client, "mallory", "s3cret", CancellationToken.None));
    }

    [Fact]
    public async Task CheckAsync_PastFreeFailures_ClientSlowedOthersNot()
    {
        var options = new ProxyAuthOptions { Users = [AliceLine], FailuresBeforeDelay = 3, FailureDelay = TimeSpan.FromMilliseconds(300) };
        using ProxyAuthenticator auth = ProxyAuthenticator.Create(options, "/tmp", NullLogger.Instance);
        NetAddress guesser = NetAddress.Parse("192.0.2.2");
        for (int i = 0; i < 3; i++)
        {
            Assert.False(await auth.CheckAsync(guesser, "alice", "guess" + i, CancellationToken.None));
        }

        var slowed = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(await auth.CheckAsync(guesser, "alice", "guess", CancellationToken.None));
        TimeSpan guesserTook = slowed.Elapsed;

        Assert.True(auth.Throttle.IsSlowed(guesser));
        Assert.False(auth.Throttle.IsSlowed(NetAddress.Parse("192.0.2.3")));
        Assert.True(guesserTook >= TimeSpan.FromMilliseconds(290), guesserTook.ToString());
        Assert.True(await auth.CheckAsync(guesser, "alice", "s3cret", CancellationToken.None));
        Assert.False(auth.Throttle.IsSlowed(guesser));
    }

    [Fact]
    public void Create_UsersFileReadableByOthers_Refused()
    {
        string file = Path.GetTempFileName();
        File.WriteAllText(file, AliceLine + "\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        try
        {
            InvalidDataException e = Assert.Throws<InvalidDataException>(() => ProxyAuthenticator.Create(new ProxyAuthOptions { UsersFile = file }, "/tmp", NullLogger.Instance));

            Assert.Contains("chmod 600", e.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task UsersFile_Changed_ReloadedWithinSeconds_BrokenEditKeepsOldUsers()
    {
        string folder = Directory.CreateTempSubdirectory("proxy-users-").FullName;
        string file = Path.Combine(folder, "users");
        File.WriteAllText(file, AliceLine + "\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using ProxyAuthenticator auth = ProxyAuthenticator.Create(new ProxyAuthOptions { UsersFile = file }, "/tmp", NullLogger.Instance);
        NetAddress client = NetAddress.Parse("192.0.2.4");
        try
        {
            File.WriteAllText(file, "bob:plain\n");
            await Task.Delay(1500);
            bool aliceAfterBrokenEdit = await auth.CheckAsync(client, "alice", "s3cret", CancellationToken.None);
            File.WriteAllText(file, AliceLine.Replace("alice", "carol", StringComparison.Ordinal) + "\n");
            bool carol = false;
            for (int i = 0; i < 50 && !carol; i++)
            {
                await Task.Delay(100);
                carol = auth.UserCount == 1 && await auth.CheckAsync(client, "carol", "s3cret", CancellationToken.None);
            }

            Assert.True(aliceAfterBrokenEdit);
            Assert.True(carol);
            Assert.False(await auth.CheckAsync(client, "alice", "s3cret", CancellationToken.None));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Read_AuthWithoutUsers_AndPlainTextInlineUser_AreErrors()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["auth:realm"] = "x",
            ["accessLog:path"] = "a.log",
            ["accessLog:format"] = "apache",
        }).Build();
        IConfiguration inline = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["auth:users:0"] = "bob:plain" }).Build();
        List<(string Key, string Message)> errors = [];
        List<(string Key, string Message)> inlineErrors = [];

        HttpProxyOptionsReader.Read(configuration, errors);
        HttpProxyOptionsReader.Read(inline, inlineErrors);

        Assert.Contains(errors, e => e.Key == "auth:usersFile");
        Assert.Contains(errors, e => e.Key == "accessLog:format" && e.Message.Contains("squid, combined or json", StringComparison.Ordinal));
        Assert.Contains(inlineErrors, e => e.Key == "auth:users:0");
    }

    [Theory]
    [InlineData("squid", @"^\d+\.\d{3} +\d+ 192\.0\.2\.9 TCP_MISS/200 1234 GET http://x/a%20b alice HIER_DIRECT/x:80 -$")]
    [InlineData("combined", @"^192\.0\.2\.9 - alice \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] ""GET http://x/a%20b HTTP/1\.1"" 200 1234 ""-"" ""-""$")]
    [InlineData("json", @"^\{""time"":""[0-9T:.Z-]+"",""elapsedMs"":[0-9.]+,""client"":""192.0.2.9"",""user"":""alice"",""protocol"":""http"",""method"":""GET"",""url"":""http://x/a b"",""result"":""TCP_MISS"",""status"":200,""bytes"":1234,""peer"":""x:80""\}$")]
    public async Task AccessLog_Line_ParsesAsItsFormat_SpacesInUrlEscaped(string format, string pattern)
    {
        string folder = Directory.CreateTempSubdirectory("proxy-access-").FullName;
        string path = Path.Combine(folder, "access.log");
        await using (var log = new AccessLog(new AccessLogOptions { Path = path, Format = Enum.Parse<AccessLogFormat>(format, ignoreCase: true) }, path, NullLogger.Instance))
        {
            log.Write(new AccessLogEntry
            {
                Time = DateTimeOffset.UtcNow,
                Elapsed = TimeSpan.FromMilliseconds(45),
                Client = "192.0.2.9",
                User = "alice",
                Result = "TCP_MISS",
                Status = 200,
                Bytes = 1234,
                Method = "GET",
                Url = "http://x/a b",
                Peer = "x:80",
                Protocol = "http",
            });
        }

        string[] lines = File.ReadAllLines(path);
        Directory.Delete(folder, recursive: true);

        Assert.Single(lines);
        Assert.Matches(pattern, lines[0]);
    }

    [Fact]
    public async Task AccessLog_PastMaxSize_RotatesKeepingTheNewestFiles()
    {
        string folder = Directory.CreateTempSubdirectory("proxy-access-").FullName;
        string path = Path.Combine(folder, "access.log");
        var options = new AccessLogOptions { Path = path, MaxSizeBytes = 4096, Keep = 2 };
        await using (var log = new AccessLog(options, path, NullLogger.Instance))
        {
            for (int i = 0; i < 200; i++)
            {
                log.Write(new AccessLogEntry
                {
                    Time = DateTimeOffset.UtcNow, Elapsed = TimeSpan.Zero, Client = "192.0.2.9", Result = "TCP_MISS", Status = 200, Bytes = i,
                    Method = "GET", Url = $"http://x/{i}", Protocol = "http",
                });
            }
        }

        string[] files = Directory.GetFiles(folder).Select(Path.GetFileName).Order().ToArray()!;
        long newest = new FileInfo(path).Length;
        string last = File.ReadAllLines(path)[^1];
        Directory.Delete(folder, recursive: true);

        Assert.Equal(["access.log", "access.log.1", "access.log.2"], files);
        Assert.InRange(newest, 1, 4096);
        Assert.Contains("http://x/199", last);
    }
}
