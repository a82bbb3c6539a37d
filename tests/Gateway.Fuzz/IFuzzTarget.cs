namespace Gateway.Fuzz;

/// <summary>
/// One fuzz target: a parser or state machine facing the network or the operator, fed arbitrary bytes. It returns
/// normally for every input the code handles as designed (accepted or refused) and throws
/// <see cref="FuzzInvariantException"/> when an invariant breaks; any other exception escaping it is a crash too.
/// </summary>
public interface IFuzzTarget
{
    /// <summary>The name scripts/fuzz.sh and the corpus folder use (Corpus/&lt;name&gt;/).</summary>
    string Name { get; }

    /// <summary>What the target feeds and what it asserts, for `Gateway.Fuzz list` and docs/fuzzing.md.</summary>
    string Description { get; }

    /// <summary>Runs one input. Must be deterministic for a given input (so a crash file reproduces).</summary>
    void Run(ReadOnlySpan<byte> input);
}
