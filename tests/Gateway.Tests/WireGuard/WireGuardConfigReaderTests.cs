using Gateway.Plugins.WireGuard.Configuration;
using Microsoft.Extensions.Configuration;

namespace Gateway.Tests.WireGuard;

public sealed class WireGuardConfigReaderTests
{
    private const string Key = "YNqHbfBQKaGvzefSSsT7bPK8MOCQWrkzvNgoqc8mKnE=";

    private static (WireGuardOptions Options, List<(string Path, string Message)> Errors) Read(Dictionary<string, string?> values)
    {
        IConfiguration config = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var errors = new List<(string, string)>();
        WireGuardOptions options = WireGuardConfigReader.Read(config, Path.GetTempPath(), (p, m) => errors.Add((p, m)));
        return (options, errors);
    }

    [Fact]
    public void Read_FullSection_ParsedValues()
    {
        (WireGuardOptions options, var errors) = Read(new()
        {
            ["privateKey"] = Key,
            ["listenPort"] = "51820",
            ["peers:0:publicKey"] = Key,
            ["peers:0:presharedKey"] = Key,
            ["peers:0:endpoint"] = "192.168.241.2:51821",
            ["peers:0:allowedIps:0"] = "10.99.0.2/32",
            ["peers:0:allowedIps:1"] = "fd99::2/128",
            ["peers:0:persistentKeepalive"] = "25",
        });
        Assert.Empty(errors);
        Assert.Equal(32, options.PrivateKey!.Length);
        Assert.Equal(51820, options.ListenPort);
        WireGuardPeerOptions peer = Assert.Single(options.Peers);
        Assert.Equal("192.168.241.2:51821", peer.Endpoint.ToString());
        Assert.Equal(2, peer.AllowedIps.Count);
        Assert.Equal(25, peer.PersistentKeepalive);
    }

    [Fact]
    public void Read_BadValues_EveryErrorWithItsKeyPath()
    {
        (_, var errors) = Read(new()
        {
            ["privateKey"] = "short",
            ["listenPort"] = "99999",
            ["peers:0:publicKey"] = "not base64!",
            ["peers:0:endpoint"] = "nohost",
            ["peers:0:allowedIps:0"] = "10.99.0.0/40",
            ["peers:0:persistentKeepalive"] = "-1",
            ["peers:0:colour"] = "blue",
            ["peers:1:allowedIps:0"] = "10.0.0.0/8",
        });
        string[] paths = errors.Select(e => e.Path).ToArray();
        Assert.Contains("privateKey", paths);
        Assert.Contains("listenPort", paths);
        Assert.Contains("peers:0:publicKey", paths);
        Assert.Contains("peers:0:endpoint", paths);
        Assert.Contains("peers:0:allowedIps:0", paths);
        Assert.Contains("peers:0:persistentKeepalive", paths);
        Assert.Contains("peers:0:colour", paths);
        Assert.Contains("peers:1:publicKey", paths);
    }

    [Fact]
    public void Read_EmptySection_NoErrorsAndNoKey()
    {
        (WireGuardOptions options, var errors) = Read(new());
        Assert.Empty(errors);
        Assert.Null(options.PrivateKey);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Read_PrivateKeyFileMode600_KeyLoaded()
    {
        string file = KeyFile(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        (WireGuardOptions options, var errors) = Read(new() { ["privateKeyFile"] = file });
        Assert.Empty(errors);
        Assert.Equal(Convert.FromBase64String(Key), options.PrivateKey);
        Assert.Equal(file, options.PrivateKeyFile);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Read_PrivateKeyFileReadableByOthers_RefusedAtThatKey()
    {
        string file = KeyFile(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        (WireGuardOptions options, var errors) = Read(new() { ["privateKeyFile"] = file });
        (string path, string message) = Assert.Single(errors);
        Assert.Equal("privateKeyFile", path);
        Assert.Contains("mode 0604", message);
        Assert.Null(options.PrivateKey);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Read_PrivateKeyAndPrivateKeyFile_RefusedAsAmbiguous()
    {
        string file = KeyFile(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        (_, var errors) = Read(new() { ["privateKey"] = Key, ["privateKeyFile"] = file });
        Assert.Contains(errors, e => e.Path == "privateKeyFile" && e.Message.Contains("not both"));
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static string KeyFile(UnixFileMode mode)
    {
        string file = Path.Combine(Directory.CreateTempSubdirectory("gwt-wgkey-").FullName, "wg.key");
        File.WriteAllText(file, Key + "\n");
        File.SetUnixFileMode(file, mode);
        return file;
    }

    [Fact]
    public void Read_LogLevelAndTheHostsOtherKeys_Accepted()
    {
        (_, var errors) = Read(new() { ["privateKey"] = Key, ["logLevel"] = "debug", ["maxConnections"] = "10", ["idleTimeoutSeconds"] = "5" });

        Assert.Empty(errors);
    }

    [Fact]
    public void Read_UnknownKeys_TheSdksWordingAtTheirPaths()
    {
        (_, var errors) = Read(new()
        {
            ["privateKey"] = Key,
            ["listenPrt"] = "51820",
            ["peers:0:publicKey"] = Key,
            ["peers:0:colour"] = "blue",
        });

        Assert.Equal(
            [
                ("listenPrt", "unknown key in wireguard (known: privateKey, privateKeyFile, listenPort, peers, listen, virtual, maxConnections, idleTimeoutSeconds, logLevel)"),
                ("peers:0:colour", "unknown key in wireguard.peers[0] (known: publicKey, presharedKey, endpoint, allowedIps, persistentKeepalive)"),
            ],
            errors.OrderBy(e => e.Path, StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void Read_TwelvePeers_KeptInTheFilesOrder()
    {
        var values = new Dictionary<string, string?> { ["privateKey"] = Key };
        for (int i = 0; i < 12; i++)
        {
            values[$"peers:{i}:publicKey"] = Convert.ToBase64String(Enumerable.Repeat((byte)(i + 1), 32).ToArray());
            values[$"peers:{i}:allowedIps"] = $"10.99.{i}.0/24";
        }

        (WireGuardOptions options, var errors) = Read(values);

        Assert.Empty(errors);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => $"10.99.{i}.0/24"), options.Peers.Select(p => p.AllowedIps.Single().ToString()));
    }
}
