using System.Net;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>What a rule decides.</summary>
public enum VerdictKind
{
    /// <summary>No decision: the next rule runs; after the last, the query is resolved normally.</summary>
    Continue,

    /// <summary>Answer NXDOMAIN.</summary>
    NxDomain,

    /// <summary>Answer REFUSED.</summary>
    Refused,

    /// <summary>Answer SERVFAIL.</summary>
    ServFail,

    /// <summary>Send nothing back.</summary>
    Drop,

    /// <summary>Answer locally with an address (A or AAAA).</summary>
    Answer,

    /// <summary>Resolve through a named upstream group (split DNS).</summary>
    Forward,

    /// <summary>
    /// Resolve normally and stop: no later rule runs and no block list (<c>dns-dot.lists</c>) applies: what an
    /// allow list entry does.
    /// </summary>
    Allow,
}

/// <summary>
/// A rule's decision. The fixed verdicts are shared instances; <see cref="Answer(string, int)"/> and
/// <see cref="Forward"/> create one (create them once, outside the lambda, to keep queries allocation-free).
/// </summary>
public sealed class Verdict
{
    private Verdict(VerdictKind kind, NetAddress address = default, int ttl = 0, string? group = null)
    {
        Kind = kind;
        AnswerAddress = address;
        AnswerAddresses = kind == VerdictKind.Answer ? [address] : [];
        Ttl = ttl;
        Group = group;
    }

    private Verdict(NetAddress[] addresses, int ttl)
    {
        Kind = VerdictKind.Answer;
        AnswerAddress = addresses[0];
        AnswerAddresses = addresses;
        Ttl = ttl;
    }

    /// <summary>No decision; the next rule runs.</summary>
    public static Verdict Continue { get; } = new(VerdictKind.Continue);

    /// <summary>Answer NXDOMAIN.</summary>
    public static Verdict NxDomain { get; } = new(VerdictKind.NxDomain);

    /// <summary>Answer REFUSED.</summary>
    public static Verdict Refused { get; } = new(VerdictKind.Refused);

    /// <summary>Answer SERVFAIL.</summary>
    public static Verdict ServFail { get; } = new(VerdictKind.ServFail);

    /// <summary>Send no answer at all.</summary>
    public static Verdict Drop { get; } = new(VerdictKind.Drop);

    /// <summary>Resolve normally, skipping later rules and the configured block lists (an allow-list entry).</summary>
    public static Verdict Allow { get; } = new(VerdictKind.Allow);

    /// <summary>
    /// A block: <c>Block(...)</c> and <c>BlockList(...)</c>. NXDOMAIN to rules that look at <see cref="Kind"/>; the
    /// resolver answers it as <c>blockingMode</c> says (with an Extended DNS Error "Blocked"), unless blocking is
    /// off for the client's group or paused.
    /// </summary>
    internal static Verdict Blocked { get; } = new(VerdictKind.NxDomain) { IsBlock = true };

    /// <summary>What the verdict is.</summary>
    public VerdictKind Kind { get; }

    /// <summary>True for <see cref="Blocked"/>: a block that <c>blockingMode</c>, per-client blocking and pauses apply to.</summary>
    internal bool IsBlock { get; private init; }

    /// <summary>For <see cref="VerdictKind.Answer"/>: the address (A for IPv4, AAAA for IPv6).</summary>
    public IPAddress? Address => Kind == VerdictKind.Answer ? AnswerAddress.ToIPAddress() : null;

    /// <summary>For <see cref="VerdictKind.Answer"/>: the TTL in seconds.</summary>
    public int Ttl { get; }

    /// <summary>For <see cref="VerdictKind.Forward"/>: the upstream group's name.</summary>
    public string? Group { get; }

    /// <summary>The answer address as a value (the first of <see cref="AnswerAddresses"/>).</summary>
    internal NetAddress AnswerAddress { get; }

    /// <summary>
    /// For <see cref="VerdictKind.Answer"/>: every address of the answer, all of one family when built by the
    /// script's <c>Answer(name, address)</c> declarations (several calls for one name add addresses; one
    /// RR each). Empty for other kinds.
    /// </summary>
    internal NetAddress[] AnswerAddresses { get; }

    /// <summary>Answer locally with <paramref name="address"/>: an A record for a query of type A and an IPv4
    /// address, AAAA for AAAA and IPv6, and an empty NOERROR answer for other types.</summary>
    /// <exception cref="FormatException">The address is not an IP address.</exception>
    public static Verdict Answer(string address, int ttl = 60) => Answer(NetAddress.Parse(address), ttl);

    /// <summary>Answer locally with <paramref name="address"/> (see <see cref="Answer(string, int)"/>).</summary>
    public static Verdict Answer(IPAddress address, int ttl = 60) => Answer(NetAddress.FromIPAddress(address), ttl);

    /// <summary>Resolve through the upstream group <paramref name="group"/> (a key under <c>dns-dot.groups</c>).</summary>
    public static Verdict Forward(string group)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        return new Verdict(VerdictKind.Forward, group: group);
    }

    internal static Verdict Answer(NetAddress address, int ttl)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ttl);
        return new Verdict(VerdictKind.Answer, address, ttl);
    }

    /// <summary>A local answer with several addresses (the caller keeps them of one family).</summary>
    internal static Verdict Answer(NetAddress[] addresses, int ttl)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ttl);
        ArgumentOutOfRangeException.ThrowIfZero(addresses.Length);
        return new Verdict(addresses, ttl);
    }

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        VerdictKind.Answer => $"Answer({AnswerAddress}, ttl {Ttl})",
        VerdictKind.Forward => $"Forward({Group})",
        _ => Kind.ToString(),
    };
}
