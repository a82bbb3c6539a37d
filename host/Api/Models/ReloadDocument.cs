namespace Gateway.Host.Api.Models;

/// <summary>A config reload's result (<c>lastReload</c> of the status, and the answer of <c>POST /api/v1/config/reload</c>).</summary>
/// <param name="Time">When it finished.</param>
/// <param name="Trigger">"file" (the config file changed) or "api".</param>
/// <param name="Ok">True when applied; false when rejected (the running config stays).</param>
/// <param name="Errors">Why it was rejected.</param>
/// <param name="Error">One line summing up a rejection (the API's error convention); null when applied.</param>
internal sealed record ReloadDocument(DateTime Time, string Trigger, bool Ok, IReadOnlyList<ConfigErrorDocument> Errors, string? Error = null);
