namespace Gateway.Host.Cli;

/// <summary>A CLI command that reads the admin API failed; <see cref="ExitCode"/> is what the process exits with.</summary>
internal sealed class AdminClientException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
