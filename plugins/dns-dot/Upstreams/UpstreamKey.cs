namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>
/// What one upstream is built from, compared by value: a reload reuses the upstream (pool, health, warm
/// connections) when its key is unchanged and rebuilds it otherwise.
/// </summary>
/// <param name="Address">The address as configured (scheme, host, port, path).</param>
/// <param name="TlsName">The authentication domain name (RFC 8310 §8); "" for udp:// and tcp://.</param>
/// <param name="CaPem">The content of <c>caFile</c> (not its name: a replaced CA file with the same name is a change), or null for the system store.</param>
/// <param name="SpkiPins">The pins, comma-separated in configured order.</param>
/// <param name="Settings">Timeouts and limits shared by every upstream.</param>
/// <param name="Bootstrap">The bootstrap servers, comma-separated ("" for the system resolver): they find host names.</param>
internal sealed record UpstreamKey(string Address, string TlsName, string? CaPem, string SpkiPins, UpstreamSettings Settings, string Bootstrap = "");
