using Gateway.Host.Configuration;

namespace Gateway.Host.Runtime;

/// <summary>The result of one config reload, for the admin API and the console page.</summary>
/// <param name="Time">When it finished.</param>
/// <param name="Trigger">Why it ran: <see cref="FileTrigger"/> or <see cref="ApiTrigger"/>.</param>
/// <param name="Ok">True when the new config was applied; false when it was rejected and the running one kept.</param>
/// <param name="Errors">Why it was rejected (file:line:col each); empty when applied.</param>
internal sealed record ReloadReport(DateTimeOffset Time, string Trigger, bool Ok, IReadOnlyList<ConfigError> Errors)
{
    /// <summary>The config file changed on disk.</summary>
    public const string FileTrigger = "file";

    /// <summary>POST /api/v1/config/reload.</summary>
    public const string ApiTrigger = "api";
}
