using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>Log messages of the rule engine (event ids 600–799).</summary>
internal static partial class RulesLog
{
    [LoggerMessage(EventId = 600, Level = LogLevel.Information, Message = "rules loaded: {RuleCount} rules ({NameCount} names) from {FileCount} script(s) in {ElapsedMs} ms")]
    public static partial void Loaded(ILogger logger, int ruleCount, int nameCount, int fileCount, long elapsedMs);

    [LoggerMessage(EventId = 601, Level = LogLevel.Error, Message = "{File}:{Line}:{Column}: {Message}")]
    public static partial void ScriptError(ILogger logger, string file, int line, int column, string message);

    [LoggerMessage(EventId = 602, Level = LogLevel.Error, Message = "rule scripts not loaded ({ErrorCount} error(s)); {Action}")]
    public static partial void LoadFailed(ILogger logger, int errorCount, string action);

    [LoggerMessage(EventId = 603, Level = LogLevel.Warning, Message = "rule '{Rule}' threw {ExceptionType} for {Name} {Type}: {ExceptionMessage}; the query got SERVFAIL ({Suppressed} more failures since the last message); fix the rule's lambda")]
    public static partial void RuleThrew(ILogger logger, string rule, string name, DnsType type, string exceptionType, string exceptionMessage, long suppressed);

    [LoggerMessage(EventId = 604, Level = LogLevel.Warning, Message = "rule script context of generation {Generation} was not unloaded within {Seconds} s: something still references the old rules (a leak); reloads will grow memory")]
    public static partial void UnloadLeak(ILogger logger, long generation, int seconds);

    [LoggerMessage(EventId = 605, Level = LogLevel.Debug, Message = "rule script context of generation {Generation} unloaded")]
    public static partial void Unloaded(ILogger logger, long generation);

    [LoggerMessage(EventId = 606, Level = LogLevel.Information, Message = "rule file change detected; reloading {FileCount} script(s)")]
    public static partial void ChangeDetected(ILogger logger, int fileCount);

    [LoggerMessage(EventId = 607, Level = LogLevel.Warning, Message = "rules glob '{Glob}' matches no file under {Directory}")]
    public static partial void GlobMatchesNothing(ILogger logger, string glob, string directory);

    [LoggerMessage(EventId = 608, Level = LogLevel.Warning, Message = "watching rule files failed ({Message}); edits are picked up on the next change event or restart")]
    public static partial void WatchFailed(ILogger logger, string message);

    [LoggerMessage(EventId = 609, Level = LogLevel.Error, Message = "reloading rule scripts failed unexpectedly; the previous rules stay")]
    public static partial void ReloadCrashed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 610, Level = LogLevel.Information, Message = "rule scripts loaded from cache: {FileCount} script(s) compiled earlier, from {Directory}; the compiler was not loaded")]
    public static partial void LoadedFromCache(ILogger logger, int fileCount, string directory);

    [LoggerMessage(EventId = 611, Level = LogLevel.Information, Message = "rule scripts compiled: {Compiled} script(s) compiled, {FromCache} from the cache in {Directory}")]
    public static partial void Compiled(ILogger logger, int compiled, int fromCache, string directory);

    [LoggerMessage(EventId = 612, Level = LogLevel.Warning, Message = "compiled rule script cache: {Problem}; the rules still load, compiled at each start (set dns-dot.stateDirectory to a folder only the gateway's user can write)")]
    public static partial void CacheProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = 613, Level = LogLevel.Warning, Message = "rule scripts have no compiled image in the cache (first start, upgrade or edit): compiling them in the background; until they load, {Window}")]
    public static partial void ScriptsCompiling(ILogger logger, string window);

    [LoggerMessage(EventId = 614, Level = LogLevel.Warning, Message = "rule scripts active: {FileCount} script(s) compiled in the background in {ElapsedMs} ms; {Queries} queries were answered {Window} until now")]
    public static partial void ScriptsTookOver(ILogger logger, int fileCount, long elapsedMs, long queries, string window);
}
