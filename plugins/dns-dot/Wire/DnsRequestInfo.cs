namespace Gateway.Plugins.DnsDot.Wire;

/// <summary>
/// What the resolver needs to know about a client query, as offsets into the query bytes
/// (no copies: the name stays where it is in the message).
/// </summary>
internal struct DnsRequestInfo
{
    /// <summary>The client's message id.</summary>
    public ushort Id;

    /// <summary>The header flags word as received.</summary>
    public ushort Flags;

    /// <summary>Length of the question name in wire form (it starts at offset 12, uncompressed).</summary>
    public int NameLength;

    /// <summary>The query type.</summary>
    public ushort QType;

    /// <summary>The query class.</summary>
    public ushort QClass;

    /// <summary>Offset just past the question section.</summary>
    public int QuestionEnd;

    /// <summary>True when the query carries an EDNS(0) OPT record.</summary>
    public bool HasOpt;

    /// <summary>The client's advertised UDP payload size (RFC 6891 §6.2.3), when <see cref="HasOpt"/>.</summary>
    public ushort UdpSize;

    /// <summary>The EDNS version of the OPT record (RFC 6891 §6.1.3), when <see cref="HasOpt"/>.</summary>
    public byte EdnsVersion;

    /// <summary>The DNSSEC OK bit (RFC 3225).</summary>
    public bool DnssecOk;

    /// <summary>Offset of the OPT RDATA (its option list) in the query.</summary>
    public int OptRdataOffset;

    /// <summary>Length of the OPT RDATA.</summary>
    public int OptRdataLength;

    /// <summary>True when the query carried an EDNS Client Subnet option (RFC 7871).</summary>
    public bool HasClientSubnet;

    /// <summary>The UDP payload limit for an answer to this query: the client's EDNS size capped at <paramref name="cap"/>, or 512 without EDNS.</summary>
    public readonly int UdpLimit(int cap) =>
        HasOpt ? Math.Clamp((int)UdpSize, DnsConstants.ClassicUdpSize, Math.Max(cap, DnsConstants.ClassicUdpSize)) : DnsConstants.ClassicUdpSize;
}
