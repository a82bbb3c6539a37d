namespace Gateway.Plugins.DnsDot.Resolver;

/// <summary>Where the answer to an <see cref="UpstreamQuery"/> goes (a UDP client, a TCP session, a waiting task).</summary>
internal interface IAnswerSink
{
    /// <summary>
    /// Sends or copies <paramref name="answer"/>. Called once per query, synchronously, on the thread that
    /// completed it (usually an upstream connection's read loop); the span is only valid during the call.
    /// </summary>
    void OnAnswer(UpstreamQuery query, ReadOnlySpan<byte> answer);
}
