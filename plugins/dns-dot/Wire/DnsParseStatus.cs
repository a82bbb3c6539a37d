namespace Gateway.Plugins.DnsDot.Wire;

/// <summary>The outcome of reading a client query.</summary>
internal enum DnsParseStatus
{
    /// <summary>A well-formed standard query.</summary>
    Ok,

    /// <summary>Malformed: answer FORMERR (RFC 1035 §4.1.1).</summary>
    FormErr,

    /// <summary>An opcode other than QUERY: answer NOTIMP.</summary>
    NotImp,

    /// <summary>A well-formed query with an EDNS version above 0: answer BADVERS (RFC 6891 §6.1.3).</summary>
    BadVersion,

    /// <summary>Not answerable at all (shorter than a header, or a response): count and drop.</summary>
    Ignore,
}
