using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.WireGuard;

/// <summary>`gateway check` on the wireguard section's secrets (issue 13): a key file others can read is refused with its location.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class WireGuardCheckTests
{
    [Fact]
    public async Task Check_WorldReadablePrivateKeyFile_ExitsTwoAtTheKeyWithReason()
    {
        string folder = NewFolder();
        string keyFile = Path.Combine(folder, "wg.key");
        await File.WriteAllTextAsync(keyFile, (await ProcessRunner.ShCheckedAsync("wg genkey")).Trim() + "\n");
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        string config = Path.Combine(folder, "gateway.yaml");
        await File.WriteAllTextAsync(config, "wireguard:\n  listenPort: 51820\n  privateKeyFile: wg.key\n");

        CommandResult refused = await CheckAsync(config);

        Assert.True(refused.ExitCode == 2, refused.Output);
        Assert.Contains($"{config}:3:3: wireguard.privateKeyFile", refused.StdErr);
        Assert.Contains("mode 0644", refused.StdErr);
        Assert.Contains("chmod 600", refused.StdErr);

        // The same file made private passes: the refusal was about the mode, not the key.
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        CommandResult accepted = await CheckAsync(config);
        Assert.True(accepted.ExitCode == 0, accepted.Output);
    }

    [Fact]
    public async Task Check_PrivateKeyFileNotAKey_ExitsTwoAtTheKey()
    {
        string folder = NewFolder();
        string keyFile = Path.Combine(folder, "wg.key");
        await File.WriteAllTextAsync(keyFile, "not a key\n");
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string config = Path.Combine(folder, "gateway.yaml");
        await File.WriteAllTextAsync(config, "wireguard:\n  privateKeyFile: wg.key\n");

        CommandResult result = await CheckAsync(config);

        Assert.True(result.ExitCode == 2, result.Output);
        Assert.Contains($"{config}:2:3: wireguard.privateKeyFile", result.StdErr);
        Assert.Contains("does not hold a WireGuard key", result.StdErr);
    }

    private static async Task<CommandResult> CheckAsync(string config)
    {
        string gateway = await GatewayBuild.GatewayDirectoryAsync();
        return await ProcessRunner.RunAsync(Path.Combine(gateway, "gateway"), ["check", "--config", config], TimeSpan.FromMinutes(2));
    }

    private static string NewFolder()
    {
        string folder = Path.Combine(Path.GetTempPath(), "gateway-e2e", "wgcheck-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(folder);
        return folder;
    }
}
