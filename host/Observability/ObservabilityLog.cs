using Microsoft.Extensions.Logging;

namespace Gateway.Host.Observability;

/// <summary>Log messages of the metrics collector, the admin listener and the statsd exporter (event ids 2000–2099).</summary>
internal static partial class ObservabilityLog
{
    [LoggerMessage(EventId = 2000, Level = LogLevel.Warning, Message = "an observable instrument's callback threw while collecting metrics ({Error}); its values are missing from this collection — fix the plugin or host callback")]
    public static partial void ObservableCallbackFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "instrument {Meter}/{Instrument} reached {Limit} tag sets; new ones are counted under otel.metric.overflow=true — one of its tags probably carries an unbounded value (an address, an id)")]
    public static partial void SeriesLimitReached(ILogger logger, string meter, string instrument, int limit);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Information, Message = "admin listener on http://{Endpoint}: GET /metrics, /healthz, /readyz")]
    public static partial void AdminListening(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Error, Message = "admin listener could not bind {Endpoint} ({Error}); check host.admin.listen is a local address and that the port is free")]
    public static partial void AdminBindFailed(ILogger logger, string endpoint, string error);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Warning, Message = "admin listener {Endpoint}: {Limit} connections already open, closing a new one; a scraper should not open many parallel connections")]
    public static partial void AdminConnectionLimit(ILogger logger, string endpoint, int limit);

    [LoggerMessage(EventId = 2013, Level = LogLevel.Debug, Message = "admin connection from {Remote} ended: {Error}")]
    public static partial void AdminConnectionFailed(ILogger logger, string remote, string error);

    [LoggerMessage(EventId = 2014, Level = LogLevel.Warning, Message = "admin listener {Endpoint}: accepting a connection failed ({Error}); retrying")]
    public static partial void AdminAcceptFailed(ILogger logger, string endpoint, string error);

    [LoggerMessage(EventId = 2015, Level = LogLevel.Error, Message = "admin listener {Endpoint}: answering {Path} failed ({Error}); answered 500")]
    public static partial void AdminHandlerFailed(ILogger logger, string endpoint, string path, string error);

    [LoggerMessage(EventId = 2016, Level = LogLevel.Information, Message = "admin listener {Endpoint} stopped")]
    public static partial void AdminStopped(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 2020, Level = LogLevel.Information, Message = "statsd export to {Address} every {IntervalSeconds} s")]
    public static partial void StatsdStarted(ILogger logger, string address, double intervalSeconds);

    [LoggerMessage(EventId = 2021, Level = LogLevel.Warning, Message = "statsd export to {Address} failed ({Error}); this interval's metrics are lost, the next interval retries — check host.statsd.address and that the statsd server is up")]
    public static partial void StatsdSendFailed(ILogger logger, string address, string error);

    [LoggerMessage(EventId = 2022, Level = LogLevel.Error, Message = "statsd export to {Address} could not start ({Error}); check host.statsd.address")]
    public static partial void StatsdStartFailed(ILogger logger, string address, string error);

    [LoggerMessage(EventId = 2023, Level = LogLevel.Information, Message = "statsd export to {Address} stopped")]
    public static partial void StatsdStopped(ILogger logger, string address);
}
