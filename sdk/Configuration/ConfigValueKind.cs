namespace Gateway.Sdk.Configuration;

/// <summary>What a key of a configuration section holds, as <see cref="SectionReader.Kind"/> tells it.</summary>
/// <remarks>
/// <c>Microsoft.Extensions.Configuration</c> alone cannot tell an absent key from <c>key:</c>, <c>key: {}</c> or
/// <c>key: []</c> (<c>Exists()</c> is false for all of them); the reader looks at the parent's children to do so.
/// </remarks>
public enum ConfigValueKind
{
    /// <summary>The key is not in the file.</summary>
    Missing,

    /// <summary>The key is present with nothing under it: <c>key:</c>, <c>key: ~</c>, <c>key: {}</c> or <c>key: []</c>.</summary>
    Empty,

    /// <summary>A single value (<c>key: 5</c>, <c>key: text</c>).</summary>
    Scalar,

    /// <summary>A map of named keys (<c>key: { a: 1 }</c>).</summary>
    Map,

    /// <summary>A list (<c>key: [a, b]</c> or a block sequence).</summary>
    List,
}
