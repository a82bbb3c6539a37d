using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Filtering;

/// <summary>Log messages of dns-dot's filtering and visibility features (lists, clients, records, query log, dnstap, statistics); event ids 700–799.</summary>
internal static partial class FilteringLog
{
    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "list {List}: {Entries} entries from {Source} ({Skipped} lines not understood and skipped{Examples}) in {ElapsedMs} ms")]
    public static partial void ListLoaded(ILogger logger, string list, int entries, string source, int skipped, string examples, long elapsedMs);

    [LoggerMessage(EventId = 701, Level = LogLevel.Warning, Message = "list {List}: refresh from {Url} failed: {Reason}; keeping the copy from {Updated} ({Entries} entries); retrying in {RetrySeconds} s")]
    public static partial void ListRefreshFailed(ILogger logger, string list, string url, string reason, string updated, int entries, long retrySeconds);

    [LoggerMessage(EventId = 702, Level = LogLevel.Debug, Message = "list {List}: {Url} not modified (304)")]
    public static partial void ListNotModified(ILogger logger, string list, string url);

    [LoggerMessage(EventId = 703, Level = LogLevel.Warning, Message = "list {List}: cannot keep a copy in {Directory}: {Reason}; the list still works but a restart without network will not have it (set dns-dot.stateDirectory to a writable folder)")]
    public static partial void ListStateUnwritable(ILogger logger, string list, string directory, string reason);

    [LoggerMessage(EventId = 704, Level = LogLevel.Warning, Message = "list {List}: cannot read {File}: {Reason}; {Action}")]
    public static partial void ListFileFailed(ILogger logger, string list, string file, string reason, string action);

    [LoggerMessage(EventId = 705, Level = LogLevel.Information, Message = "list {List}: no copy on disk yet and no download succeeded: the list blocks nothing until one does")]
    public static partial void ListEmpty(ILogger logger, string list);

    [LoggerMessage(EventId = 710, Level = LogLevel.Warning, Message = "query log {Path}: {Reason}; queries are still answered, log lines are dropped until it works again")]
    public static partial void QueryLogFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 711, Level = LogLevel.Warning, Message = "query events dropped: {Dropped} since the last message (the writer fell behind; the query path never waits for it)")]
    public static partial void EventsDropped(ILogger logger, long dropped);

    [LoggerMessage(EventId = 720, Level = LogLevel.Information, Message = "dnstap: connected to {Collector}")]
    public static partial void DnstapConnected(ILogger logger, string collector);

    [LoggerMessage(EventId = 721, Level = LogLevel.Warning, Message = "dnstap: collector {Collector} unavailable: {Reason}; retrying in {RetryMs} ms (messages meanwhile are dropped and counted)")]
    public static partial void DnstapFailed(ILogger logger, string collector, string reason, long retryMs);

    [LoggerMessage(EventId = 730, Level = LogLevel.Information, Message = "blocking paused until {Until} for {Scope}")]
    public static partial void BlockingPaused(ILogger logger, string until, string scope);

    [LoggerMessage(EventId = 731, Level = LogLevel.Information, Message = "blocking resumed for {Scope}")]
    public static partial void BlockingResumed(ILogger logger, string scope);
}
