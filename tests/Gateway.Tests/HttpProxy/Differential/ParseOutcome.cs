namespace Gateway.Tests.HttpProxy.Differential;

/// <summary>What a parser made of the first request in some bytes.</summary>
internal sealed record ParseOutcome
{
    /// <summary>
    /// "complete"; "forwarding" (the head was taken, the body is not all there: a proxy would be relaying it);
    /// "incomplete" (no whole head yet); or "rejected".
    /// </summary>
    public required string Outcome { get; init; }

    /// <summary>Why it was rejected (parser-specific text).</summary>
    public string? Error { get; init; }

    public string? Method { get; init; }

    public string? Url { get; init; }

    public int Minor { get; init; }

    public IReadOnlyList<(string Name, string Value)> Headers { get; init; } = [];

    public byte[] Body { get; init; } = [];

    /// <summary>Where the first message ends (the next pipelined one starts there).</summary>
    public int Consumed { get; init; }
}
