namespace Gateway.Plugins.DnsDot.Wire;

/// <summary>What <see cref="DnsMessageReader.TryScanResponse"/> found in an upstream response.</summary>
internal struct DnsResponseInfo
{
    /// <summary>The header RCODE (low 4 bits).</summary>
    public int Rcode;

    /// <summary>The upper 8 bits of the extended RCODE from the OPT record (RFC 6891 §6.1.3).</summary>
    public byte ExtendedRcode;

    /// <summary>True when the upstream set TC.</summary>
    public bool Truncated;

    /// <summary>Offset of the OPT record (its owner name), or -1 when there is none.</summary>
    public int OptStart;

    /// <summary>Offset just past the OPT record.</summary>
    public int OptEnd;

    /// <summary>The RFC 7828 keepalive timeout the server offered, in units of 100 ms; -1 if none.</summary>
    public int KeepaliveTimeout;

    /// <summary>How many non-OPT records (TTL fields) the message has.</summary>
    public int TtlCount;

    /// <summary>Number of answer records.</summary>
    public int AnswerCount;

    /// <summary>The message length up to the end of its last record (trailing bytes are ignored).</summary>
    public int Length;

    /// <summary>Seconds the answer may be cached: the minimum answer TTL, or the RFC 2308 negative TTL; 0 for "do not cache".</summary>
    public uint CacheTtl;

    /// <summary>True for NXDOMAIN and NODATA answers.</summary>
    public bool IsNegative;
}
