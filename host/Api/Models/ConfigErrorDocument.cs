namespace Gateway.Host.Api.Models;

/// <summary>One config error with its location.</summary>
/// <param name="File">The file (gateway.yaml, a rule script), or an environment variable's description.</param>
/// <param name="Line">1-based line; 0 when the source has no lines.</param>
/// <param name="Column">1-based column; 0 when unknown.</param>
/// <param name="Key">The key path ("dns-dot.upstreams[0].address"); null when none.</param>
/// <param name="Message">What is wrong and what to do.</param>
/// <param name="Text">The whole error as `gateway check` prints it: "file:line:col: key: message".</param>
internal sealed record ConfigErrorDocument(string File, int Line, int Column, string? Key, string Message, string Text);
