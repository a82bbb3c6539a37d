using Gateway.Sdk.Networking;

namespace Gateway.Host.Configuration;

/// <summary>Statsd export (<c>host.statsd</c>).</summary>
internal sealed class StatsdOptions
{
    /// <summary>The statsd server to send metrics to over UDP, as "ip:port". Absent: no export.</summary>
    public NetEndpoint? Address { get; set; }
}
