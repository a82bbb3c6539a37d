using System.Diagnostics;
using System.Text;

namespace Gateway.EndToEnd.Infrastructure;

/// <summary>The outcome of a finished command.</summary>
public sealed record CommandResult(int ExitCode, string StdOut, string StdErr)
{
    /// <summary>Both streams, for assertion messages.</summary>
    public string Output => StdOut + StdErr;
}

/// <summary>Runs external commands (ip, kdig, curl, wg…) with a hard timeout.</summary>
public static class ProcessRunner
{
    /// <summary>Runs a command to completion; kills it (and its children) after <paramref name="timeout"/>.</summary>
    public static async Task<CommandResult> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan? timeout = null, string? stdin = null, IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            psi.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach ((string key, string value) in environment)
            {
                psi.Environment[key] = value;
            }
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {fileName}");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return new CommandResult(-1, await stdout, await stderr + $"\n[timed out after {timeout ?? TimeSpan.FromSeconds(60)}]");
        }

        return new CommandResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs a command line through bash -c.</summary>
    public static Task<CommandResult> ShAsync(string commandLine, TimeSpan? timeout = null) =>
        RunAsync("bash", ["-c", commandLine], timeout);

    /// <summary>Runs a command line through bash -c and throws with its output when it fails.</summary>
    public static async Task<string> ShCheckedAsync(string commandLine, TimeSpan? timeout = null)
    {
        CommandResult result = await ShAsync(commandLine, timeout);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"'{commandLine}' exited {result.ExitCode}: {result.Output}");
        }

        return result.StdOut;
    }
}

/// <summary>A long-running child process (a peer such as unbound or wireguard-go, or the gateway) whose output is captured.</summary>
public sealed class BackgroundProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly object _lock = new();
    private readonly List<(string Needle, TaskCompletionSource Seen)> _waiters = new();

    private BackgroundProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    /// <summary>A name for messages.</summary>
    public string Name { get; }

    /// <summary>The process id.</summary>
    public int Pid => _process.Id;

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Exit code (after exit).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_lock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts a process with its output captured.</summary>
    public static BackgroundProcess Start(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment = null, string? name = null, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string argument in arguments)
        {
            psi.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach ((string key, string value) in environment)
            {
                psi.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var background = new BackgroundProcess(process, name ?? Path.GetFileName(fileName));
        process.OutputDataReceived += (_, e) => background.Append(e.Data);
        process.ErrorDataReceived += (_, e) => background.Append(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"could not start {fileName}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return background;
    }

    /// <summary>Waits until the output contains <paramref name="needle"/>; throws with the output so far on timeout or exit.</summary>
    public async Task WaitForOutputAsync(string needle, TimeSpan timeout)
    {
        TaskCompletionSource seen = new(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_output.ToString().Contains(needle, StringComparison.Ordinal))
            {
                return;
            }

            _waiters.Add((needle, seen));
        }

        Task exited = _process.WaitForExitAsync();
        Task winner = await Task.WhenAny(seen.Task, exited, Task.Delay(timeout));
        if (winner != seen.Task)
        {
            string why = winner == exited ? $"exited with {_process.ExitCode}" : $"did not print it within {timeout.TotalSeconds:0} s";
            throw new TimeoutException($"{Name} never printed '{needle}': {why}. Output:\n{Output}");
        }
    }

    /// <summary>Sends SIGTERM (falls back to kill after <paramref name="grace"/>) and waits for exit.</summary>
    public async Task StopAsync(TimeSpan? grace = null)
    {
        if (_process.HasExited)
        {
            return;
        }

        await ProcessRunner.RunAsync("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        using var cts = new CancellationTokenSource(grace ?? TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync(TimeSpan.FromSeconds(5));
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            _output.AppendLine(line);
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                if (line.Contains(_waiters[i].Needle, StringComparison.Ordinal) || _output.ToString().Contains(_waiters[i].Needle, StringComparison.Ordinal))
                {
                    _waiters[i].Seen.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }
}
