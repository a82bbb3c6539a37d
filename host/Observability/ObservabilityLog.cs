using Microsoft.Extensions.Logging;

namespace Gateway.Host.Observability;

/// <summary>Log messages of the metrics collector and the exporters (event ids 2000–2099; the admin listener's are in Admin/AdminLog).</summary>
internal static partial class ObservabilityLog
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Warning, Message = "an observable instrument's callback threw while collecting metrics ({Error}); its values are missing from this collection — fix the plugin or host callback")]
    public static partial void ObservableCallbackFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "instrument {Meter}/{Instrument} reached {Limit} tag sets; new ones are counted under otel.metric.overflow=true — one of its tags probably carries an unbounded value (an address, an id)")]
    public static partial void SeriesLimitReached(ILogger logger, string meter, string instrument, int limit);








    [LoggerMessage(EventId = 2020, Level = LogLevel.Information, Message = "statsd export to {Address} every {IntervalSeconds} s")]
    public static partial void StatsdStarted(ILogger logger, string address, double intervalSeconds);

    [LoggerMessage(EventId = 2021, Level = LogLevel.Warning, Message = "statsd export to {Address} failed ({Error}); this interval's metrics are lost, the next interval retries — check host.statsd.address and that the statsd server is up")]
    public static partial void StatsdSendFailed(ILogger logger, string address, string error);

    [LoggerMessage(EventId = 2022, Level = LogLevel.Error, Message = "statsd export to {Address} could not start ({Error}); check host.statsd.address")]
    public static partial void StatsdStartFailed(ILogger logger, string address, string error);

    [LoggerMessage(EventId = 2023, Level = LogLevel.Information, Message = "statsd export to {Address} stopped")]
    public static partial void StatsdStopped(ILogger logger, string address);

    [LoggerMessage(EventId = 2030, Level = LogLevel.Information, Message = "OTLP metrics export to {Target} ({Protocol}) every {IntervalSeconds} s")]
    public static partial void OtlpStarted(ILogger logger, string target, string protocol, int intervalSeconds);

    [LoggerMessage(EventId = 2031, Level = LogLevel.Information, Message = "OTLP metrics export to {Target} stopped")]
    public static partial void OtlpStopped(ILogger logger, string target);
}
