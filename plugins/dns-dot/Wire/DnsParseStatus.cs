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

    /// <summary>Not answerable at all (shorter than a header, or a response): count and drop.</summary>
    Ignore,
}
