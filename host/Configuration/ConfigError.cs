namespace Gateway.Host.Configuration;

/// <summary>One configuration problem, printed as <c>file:line:col: key.path: message</c>.</summary>
/// <param name="File">The file (gateway.yaml, a rule script) or, for an environment override, the variable's description.</param>
/// <param name="Line">1-based line, or 0 when the source has no lines (environment variables).</param>
/// <param name="Column">1-based column, or 0.</param>
/// <param name="KeyPath">The key path in display form ("dns-dot.upstreams[0].address"), or empty.</param>
/// <param name="Message">What is wrong and what to do.</param>
internal sealed record ConfigError(string File, int Line, int Column, string KeyPath, string Message)
{
    public override string ToString()
    {
        string location = Line > 0 ? $"{File}:{Line}:{Column}" : File;
        return KeyPath.Length == 0 ? $"{location}: {Message}" : $"{location}: {KeyPath}: {Message}";
    }
}
