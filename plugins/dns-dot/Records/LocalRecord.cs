namespace Gateway.Plugins.DnsDot.Records;

/// <summary>One parsed <c>records:</c> entry: owner, type, TTL and RDATA in wire form (names uncompressed).</summary>
/// <param name="Owner">The owner in the form rules see (lower case, no trailing dot); for a wildcard, the part after "*.".</param>
/// <param name="IsWildcard">True for "*.owner": every name below <paramref name="Owner"/> (RFC 4592), not the owner itself.</param>
/// <param name="Type">The RR type number.</param>
/// <param name="Ttl">The TTL in seconds.</param>
/// <param name="Rdata">The RDATA in wire form.</param>
/// <param name="Target">For CNAME: the target in the form rules see; null otherwise.</param>
internal sealed record LocalRecord(string Owner, bool IsWildcard, ushort Type, uint Ttl, byte[] Rdata, string? Target)
{
    /// <summary>A, AAAA, CNAME, PTR, TXT, SRV and MX: the types <c>records:</c> accepts.</summary>
    public const ushort TypeA = 1;

    /// <summary>RFC 1035 CNAME.</summary>
    public const ushort TypeCname = 5;

    /// <summary>RFC 1035 PTR.</summary>
    public const ushort TypePtr = 12;

    /// <summary>RFC 1035 MX.</summary>
    public const ushort TypeMx = 15;

    /// <summary>RFC 1035 TXT.</summary>
    public const ushort TypeTxt = 16;

    /// <summary>RFC 3596 AAAA.</summary>
    public const ushort TypeAaaa = 28;

    /// <summary>RFC 2782 SRV.</summary>
    public const ushort TypeSrv = 33;

    /// <summary>ANY (RFC 1035 §3.2.3): every local record of the name.</summary>
    public const ushort TypeAny = 255;
}
