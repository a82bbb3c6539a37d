namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>What a list says about a name.</summary>
internal enum ListMatch : byte
{
    /// <summary>The list does not mention the name.</summary>
    None,

    /// <summary>A block entry covers the name.</summary>
    Block,

    /// <summary>An allow entry (an allow list's, or an adblock <c>@@</c> exception) covers the name; it beats any block.</summary>
    Allow,
}
