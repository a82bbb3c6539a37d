namespace Gateway.Plugins.DnsDot.QueryLog;

/// <summary>
/// Sees every answered client query (and, when it asks, every upstream exchange) on the query path. An
/// implementation must return at once without blocking or allocating: it copies what it needs into a bounded
/// queue and does its work elsewhere (<see cref="QueryEventQueue"/>).
/// </summary>
internal interface IQueryObserver
{
    /// <summary>True when <see cref="OnUpstreamExchange"/> is wanted (dnstap FORWARDER_* messages); checked per answer.</summary>
    bool WantsUpstreamMessages { get; }

    /// <summary>A client query was answered with <paramref name="answer"/>.</summary>
    void OnAnswered(in QueryRecord record, ReadOnlySpan<byte> query, ReadOnlySpan<byte> answer);

    /// <summary>An upstream answered: <paramref name="query"/> as sent (id 0), <paramref name="response"/> as received.</summary>
    void OnUpstreamExchange(string upstream, System.Net.IPEndPoint endpoint, ReadOnlySpan<byte> query, ReadOnlySpan<byte> response, long sentAt, long receivedAt);
}
