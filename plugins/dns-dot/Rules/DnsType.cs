namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>DNS RR types (IANA registry) as seen by rule scripts; any other value can be cast from its number.</summary>
public enum DnsType : ushort
{
#pragma warning disable CS1591 // the names are the registry's mnemonics
    A = 1,
    NS = 2,
    CNAME = 5,
    SOA = 6,
    PTR = 12,
    HINFO = 13,
    MX = 15,
    TXT = 16,
    AAAA = 28,
    SRV = 33,
    NAPTR = 35,
    OPT = 41,
    DS = 43,
    SSHFP = 44,
    RRSIG = 46,
    NSEC = 47,
    DNSKEY = 48,
    NSEC3 = 50,
    NSEC3PARAM = 51,
    TLSA = 52,
    SVCB = 64,
    HTTPS = 65,
    IXFR = 251,
    AXFR = 252,
    ANY = 255,
    CAA = 257,
#pragma warning restore CS1591
}
