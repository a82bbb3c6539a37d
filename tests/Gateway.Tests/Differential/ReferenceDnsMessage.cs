namespace Gateway.Tests.Differential;

/// <summary>What a reference DNS implementation (dnspython, ARSoft.Tools.Net) made of a message: a plain model to compare ours against.</summary>
internal sealed record ReferenceDnsMessage(bool Ok, string Error)
{
    public int Id { get; init; }

    public int Flags { get; init; }

    public int Opcode { get; init; }

    /// <summary>The full rcode, the OPT's upper bits included (RFC 6891 §6.1.3).</summary>
    public int Rcode { get; init; }

    /// <summary>Questions: name in wire form (null when the reference does not give it), type, class.</summary>
    public List<(byte[]? Name, int Type, int Class)> Questions { get; init; } = [];

    /// <summary>Records in wire order, OPT included: section (0 answer, 1 authority, 2 additional), owner (or null), type, class, TTL, A/AAAA address bytes.</summary>
    public List<(int Section, byte[]? Name, int Type, int Class, long Ttl, byte[] Address)> Records { get; init; } = [];

    /// <summary>EDNS version, or -1 without OPT.</summary>
    public int Edns { get; init; } = -1;

    public int Payload { get; init; }

    public bool DnssecOk { get; init; }

    public List<(int Code, byte[] Data)> Options { get; init; } = [];

    public static ReferenceDnsMessage Refused(string error) => new(false, error);
}
