namespace Gateway.EndToEnd.Infrastructure;

/// <summary>
/// Publishes the gateway (and the sample plugin) once per test run, as a user would:
/// <c>dotnet publish host -c Release -o DIR</c>.
/// </summary>
public static class GatewayBuild
{
    // E2E_PUBLISHED_GATEWAY names an already published gateway folder to test instead (e.g. one built from main, to
    // show that a test attacks a hole that is open there).
    private static readonly Lazy<Task<string>> s_gateway = new(() =>
        Environment.GetEnvironmentVariable("E2E_PUBLISHED_GATEWAY") is { Length: > 0 } published ? Task.FromResult(published) : PublishAsync("host", "gateway"));
    private static readonly Lazy<Task<string>> s_echo = new(() => PublishAsync("tests/SamplePlugin", "echo"));
    private static readonly SemaphoreSlim s_publishLock = new(1, 1);

    /// <summary>The repository root (the folder holding Gateway.sln).</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>The published gateway's folder (holds <c>gateway</c>, <c>gateway.dll</c> and <c>plugins/</c>).</summary>
    public static Task<string> GatewayDirectoryAsync() => s_gateway.Value;

    /// <summary>The published sample echo plugin's folder (copy it into a plugin folder to load it).</summary>
    public static Task<string> EchoPluginDirectoryAsync() => s_echo.Value;

    /// <summary>Publishes a project into a fresh folder with extra MSBuild properties (for rebuilt variants).</summary>
    public static async Task<string> PublishAsync(string project, string tag, string extraArguments = "")
    {
        string output = Path.Combine(Path.GetTempPath(), "gateway-e2e", $"{tag}-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        await s_publishLock.WaitAsync();
        try
        {
            CommandResult result = await ProcessRunner.RunAsync(
                "bash",
                ["-c", $"cd '{RepositoryRoot}' && dotnet publish {project} -c Release -o '{output}' --nologo -v q {extraArguments}"],
                TimeSpan.FromMinutes(8));
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"dotnet publish {project} failed ({result.ExitCode}): {result.Output}");
            }
        }
        finally
        {
            s_publishLock.Release();
        }

        return output;
    }

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
}
