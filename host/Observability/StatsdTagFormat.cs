namespace Gateway.Host.Observability;

/// <summary>How <see cref="StatsdExporter"/> attaches tags to a statsd line.</summary>
internal enum StatsdTagFormat
{
    /// <summary>DogStatsD: <c>name:1|c|#k:v,k2:v2</c> (Datadog agent, Telegraf, statsd_exporter). The default.</summary>
    DogStatsd,

    /// <summary>InfluxDB style, as dotproxy sends them: <c>name,k=v,k2=v2:1|c</c> (Telegraf, statsd_exporter).</summary>
    Influx,

    /// <summary>No tags (plain Etsy statsd): series of one instrument are summed per line by the server.</summary>
    None,
}
