namespace Gateway.EndToEnd.Infrastructure;

/// <summary>
/// The published gateway running as a child process on a config the test writes. Start-up is complete when
/// it prints "gateway ready" (after every plugin was started or reported as failed).
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    /// <summary>The line the host prints once all plugins have started (the readiness contract).</summary>
    public const string ReadyLine = "gateway ready";

    /// <summary>dns-dot's line when a generation of rule scripts is in use (at start, whichever way they were loaded).</summary>
    public const string RulesLoadedLine = "rules loaded: ";

    /// <summary>dns-dot's line when no generation of rule scripts could be loaded (errors with file:line:col before it).</summary>
    public const string RulesNotLoadedLine = "rule scripts not loaded";

    private readonly BackgroundProcess _process;

    private GatewayProcess(BackgroundProcess process, string workDirectory, string configPath)
    {
        _process = process;
        WorkDirectory = workDirectory;
        ConfigPath = configPath;
    }

    /// <summary>The folder holding the config file (relative paths in it resolve here).</summary>
    public string WorkDirectory { get; }

    /// <summary>The config file.</summary>
    public string ConfigPath { get; }

    /// <summary>Everything the gateway printed so far.</summary>
    public string Output => _process.Output;

    /// <summary>True once the process exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The process id.</summary>
    public int Pid => _process.Pid;

    /// <summary>
    /// Writes <paramref name="yaml"/> to a fresh work folder and starts <c>gateway run --config</c> there
    /// (inside <paramref name="netns"/> when given), then waits for the ready line.
    /// </summary>
    /// <param name="yaml">The gateway.yaml text.</param>
    /// <param name="netns">Run inside this namespace (needed for a TUN that tests reach from the namespace).</param>
    /// <param name="files">Extra files to write next to the config (relative name → content), e.g. rule scripts.</param>
    /// <param name="verbosity">--verbosity value.</param>
    /// <param name="gatewayDirectory">A published gateway folder; default: the one published for this run.</param>
    /// <param name="waitForRules">
    /// When the config names rule scripts (<c>.csx</c>), also wait until dns-dot loaded them (or said they failed):
    /// with <c>rulesStartup: fast</c> (the default) a cold start is ready before its scripts compiled, and tests of
    /// the scripts' verdicts want them in use. False: return at "gateway ready" (tests of the start-up window).
    /// </param>
    public static async Task<GatewayProcess> StartAsync(string yaml, NetworkNamespace? netns = null, IReadOnlyDictionary<string, string>? files = null, string verbosity = "info", string? gatewayDirectory = null, bool waitForRules = true)
    {
        string gatewayDir = gatewayDirectory ?? await GatewayBuild.GatewayDirectoryAsync();
        string work = Path.Combine(Path.GetTempPath(), "gateway-e2e", "run-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(work);
        string config = Path.Combine(work, "gateway.yaml");
        await File.WriteAllTextAsync(config, yaml);
        foreach ((string name, string content) in files ?? new Dictionary<string, string>())
        {
            string path = Path.Combine(work, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllTextAsync(path, content);
        }

        string exe = Path.Combine(gatewayDir, "gateway");
        string[] args = ["run", "--config", config, "--verbosity", verbosity];
        BackgroundProcess process = netns is null
            ? BackgroundProcess.Start(exe, args, name: "gateway", workingDirectory: work)
            : BackgroundProcess.Start("ip", ["netns", "exec", netns.Name, exe, .. args], name: "gateway", workingDirectory: work);
        var gateway = new GatewayProcess(process, work, config);
        try
        {
            // 120 s: `gateway run` compiles rule scripts while validating (Roslyn's first, cold use), which took 50 s
            // on a 2-core machine at load average 50; the CI machine takes 2.
            await process.WaitForOutputAsync(ReadyLine, TimeSpan.FromSeconds(120));
            if (waitForRules && yaml.Contains(".csx", StringComparison.Ordinal))
            {
                // The same 120 s: the compile is Roslyn's cold use, now after "gateway ready" instead of before it.
                Task loaded = process.WaitForOutputAsync(RulesLoadedLine, TimeSpan.FromSeconds(120));
                Task failed = process.WaitForOutputAsync(RulesNotLoadedLine, TimeSpan.FromSeconds(120));
                await await Task.WhenAny(loaded, failed);
                _ = failed.ContinueWith(static t => t.Exception, TaskScheduler.Default);
                _ = loaded.ContinueWith(static t => t.Exception, TaskScheduler.Default);
            }
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }

        return gateway;
    }

    /// <summary>Waits until the gateway's output contains <paramref name="needle"/>.</summary>
    public Task WaitForOutputAsync(string needle, TimeSpan timeout) => _process.WaitForOutputAsync(needle, timeout);

    /// <summary>Stops the gateway with SIGTERM and returns its exit code.</summary>
    public async Task<int> StopAsync()
    {
        await _process.StopAsync(TimeSpan.FromSeconds(15));
        return _process.ExitCode;
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
    }
}
