using System.Diagnostics.Metrics;

namespace Gateway.Plugins.DnsDot.Server;

/// <summary>
/// The instruments of client admission and of the listeners: who was refused or limited, and which connections
/// were turned away or closed for holding resources (docs/security.md names each).
/// </summary>
internal sealed class ServingMetrics
{
    private static readonly KeyValuePair<string, object?> Dropped = new("action", "dropped");
    private static readonly KeyValuePair<string, object?> Truncated = new("action", "truncated");
    private static readonly KeyValuePair<string, object?> RefusedAction = new("action", "refused");

    /// <summary>Creates the instruments on the plugin's meter.</summary>
    public ServingMetrics(Meter meter)
    {
        Refused = meter.CreateCounter<long>("dns.client.refused", "{query}", "Queries answered REFUSED because the client is not in allowClients (or is in denyClients)");
        RateLimited = meter.CreateCounter<long>("dns.client.rate_limited", "{query}", "Queries over rateLimit, by action: dropped, truncated (TC=1 slip) or refused (TCP, DoT, DoH)");
        ConnectionsRejected = meter.CreateCounter<long>("dns.client.connections.rejected", "{connection}", "Client connections closed at once: over maxConnectionsPerClient");
        ConnectionsAborted = meter.CreateCounter<long>("dns.client.connections.aborted", "{connection}", "Client connections closed for holding resources, by reason: write_timeout or buffer_cap (answers not read), slow_query (a query not whole within clientIdleTimeoutMs of its first byte)");
        HandshakeErrors = meter.CreateCounter<long>("dns.client.tls_handshake_errors", "{connection}", "DoT and DoH client handshakes that failed or timed out");
        HttpErrors = meter.CreateCounter<long>("dns.client.https_errors", "{request}", "DoH requests answered with an HTTP error (400, 404, 405, 413, 415)");
    }

    /// <summary>dns.client.refused.</summary>
    public Counter<long> Refused { get; }

    /// <summary>dns.client.rate_limited{action}.</summary>
    public Counter<long> RateLimited { get; }

    /// <summary>dns.client.connections.rejected.</summary>
    public Counter<long> ConnectionsRejected { get; }

    /// <summary>dns.client.connections.aborted{reason}.</summary>
    public Counter<long> ConnectionsAborted { get; }

    /// <summary>dns.client.tls_handshake_errors.</summary>
    public Counter<long> HandshakeErrors { get; }

    /// <summary>dns.client.https_errors.</summary>
    public Counter<long> HttpErrors { get; }

    /// <summary>Counts a query over the rate limit by what was done with it.</summary>
    public void CountLimited(Security.AdmissionResult result)
    {
        switch (result)
        {
            case Security.AdmissionResult.Drop:
                RateLimited.Add(1, Dropped);
                break;
            case Security.AdmissionResult.Truncate:
                RateLimited.Add(1, Truncated);
                break;
            default:
                RateLimited.Add(1, RefusedAction);
                break;
        }
    }
}
