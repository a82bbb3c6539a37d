using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Kit;

/// <summary>Runs dotnet as a plugin author outside the repository would, without touching the user's NuGet cache.</summary>
internal static class KitEnvironment
{
    /// <summary>
    /// NuGet caches packages by id and version, and every pack of the SDK is 1.0.0: a private package folder keeps a
    /// stale Gateway.Sdk out of the machine's cache (and the machine's out of the test). Third-party packages come from
    /// the folder of the previous run when there is one, so only the gateway's own packages are unpacked again.
    /// </summary>
    public static IDictionary<string, string> ForOutsideBuilds(string work)
    {
        string packages = Path.Combine(Path.GetTempPath(), "gateway-e2e", "kit-nuget-packages");
        foreach (string stale in new[] { "gateway.sdk", "gateway.plugin.templates" })
        {
            string folder = Path.Combine(packages, stale);
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }

        return new Dictionary<string, string>
        {
            ["NUGET_PACKAGES"] = packages,
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
        };
    }

    /// <summary>Runs a command line in <paramref name="directory"/>; throws with its output when it fails.</summary>
    public static async Task<string> RunAsync(string commandLine, string directory, IDictionary<string, string> environment)
    {
        CommandResult result = await ProcessRunner.RunAsync("bash", ["-c", $"cd '{directory}' && {commandLine}"], TimeSpan.FromMinutes(8), environment: environment);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{commandLine} failed ({result.ExitCode}):\n{result.Output}");
        }

        return result.Output;
    }
}
