namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// What a start does while rule scripts without a cached image compile (<c>dns-dot.rulesStartup</c>; issue 21:
/// Roslyn costs seconds of CPU on a cold start). Reloads never use a window: the previous rules serve until the new
/// ones are compiled.
/// </summary>
internal enum RulesStartupMode
{
    /// <summary>Ready at once; until the scripts load, queries are answered as if they had no rules (blocky's <c>loading.strategy: fast</c>).</summary>
    Fast,

    /// <summary>Ready at once; until the scripts load, every query is answered REFUSED (fail closed: clients ask their next resolver).</summary>
    Refuse,

    /// <summary>Ready only once the scripts are compiled and loaded (the behaviour before issue 21).</summary>
    Wait,
}

/// <summary>Parsing of <see cref="RulesStartupMode"/> from its config spelling.</summary>
internal static class RulesStartupModes
{
    /// <summary>The mode named by <paramref name="text"/> (fast, refuse, wait; any case), or null.</summary>
    public static RulesStartupMode? Parse(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "fast" => RulesStartupMode.Fast,
        "refuse" => RulesStartupMode.Refuse,
        "wait" => RulesStartupMode.Wait,
        _ => null,
    };
}
