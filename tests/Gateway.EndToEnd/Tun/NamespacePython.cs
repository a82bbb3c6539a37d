using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Tun;

/// <summary>Runs python3 scripts inside a test's network namespace (the clients of the TUN tests).</summary>
public static class NamespacePython
{
    /// <summary>Runs <paramref name="script"/> with python3 inside <paramref name="ns"/>; returns its result.</summary>
    public static async Task<CommandResult> RunAsync(NetworkNamespace ns, string script, TimeSpan? timeout = null)
    {
        string path = Path.Combine(Path.GetTempPath(), $"gwt-{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(path, script);
        try
        {
            return await ProcessRunner.RunAsync("ip", ["netns", "exec", ns.Name, "python3", path], timeout ?? TimeSpan.FromSeconds(120));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Like <see cref="RunAsync"/>, but fails the test with the output unless the script exits 0; returns stdout.</summary>
    public static async Task<string> RunCheckedAsync(NetworkNamespace ns, string script, TimeSpan? timeout = null)
    {
        CommandResult result = await RunAsync(ns, script, timeout);
        Assert.True(result.ExitCode == 0, $"python3 exited {result.ExitCode}: {result.Output}");
        return result.StdOut;
    }
}
