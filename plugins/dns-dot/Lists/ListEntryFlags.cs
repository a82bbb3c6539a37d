namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>
/// How one list entry applies to the names it is a suffix of; block flags in the low bits, the same for allow
/// entries shifted by <see cref="AllowShift"/>, so one name can carry both (a list blocking a name and excepting
/// its subdomain).
/// </summary>
[Flags]
internal enum ListEntryFlags : byte
{
    /// <summary>No entry.</summary>
    None = 0,

    /// <summary>Exactly the name (hosts files, <c>|name^</c>).</summary>
    Exact = 1,

    /// <summary>The name and every subdomain (<c>||name^</c>, domains lists).</summary>
    Subtree = 2,

    /// <summary>Subdomains only, not the name itself (<c>||*.name^</c>, <c>*.name</c>).</summary>
    Below = 4,
}

/// <summary>Helpers for <see cref="ListEntryFlags"/> values stored per name.</summary>
internal static class ListEntryBits
{
    /// <summary>Allow entries' flags are the block flags shifted by this.</summary>
    public const int AllowShift = 3;

    /// <summary>The flags that apply to a name the entry equals (<paramref name="whole"/>) or is a proper suffix of.</summary>
    public static int Applicable(bool whole) => (int)ListEntryFlags.Subtree | (int)(whole ? ListEntryFlags.Exact : ListEntryFlags.Below);
}
