using System.Net;
using System.Text;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// The question a rule looks at. <see cref="Name"/> and <see cref="Client"/> are created on first use,
/// so rules that match on prebuilt name sets or client networks cost no allocation per query.
/// </summary>
/// <remarks>One instance is reused per query by the resolver; do not keep it beyond the rule call.</remarks>
public sealed class DnsQuery
{
    private readonly byte[] _name = new byte[1024];
    private int _nameLength;
    private string? _nameString;
    private NetAddress _client;
    private IPAddress? _clientAddress;

    /// <summary>An empty query, to be filled by <see cref="Reset"/>.</summary>
    internal DnsQuery()
    {
    }

    /// <summary>Creates a query (for tests and tools).</summary>
    /// <param name="name">The name, any case, with or without the trailing dot.</param>
    /// <param name="type">The query type.</param>
    /// <param name="client">The client's address.</param>
    /// <param name="transport">How the query arrived.</param>
    public DnsQuery(string name, DnsType type, IPAddress client, DnsTransport transport = DnsTransport.Udp)
    {
        string normalized = name.TrimEnd('.').ToLowerInvariant();
        Reset(Encoding.ASCII.GetBytes(normalized), type, NetAddress.FromIPAddress(client), transport);
    }

    /// <summary>The queried name: lower case, no trailing dot ("www.example.test"; "" for the root).</summary>
    public string Name => _nameString ??= Encoding.ASCII.GetString(_name, 0, _nameLength);

    /// <summary>The query type.</summary>
    public DnsType Type { get; private set; }

    /// <summary>The client's address (the original sender, also for virtual endpoints).</summary>
    public IPAddress Client => _clientAddress ??= _client.ToIPAddress();

    /// <summary>How the query arrived.</summary>
    public DnsTransport Transport { get; private set; }

    /// <summary>
    /// True when the name is <paramref name="name"/> (case-insensitive, trailing dot ignored). Unlike comparing
    /// <see cref="Name"/>, this allocates nothing.
    /// </summary>
    public bool NameEquals(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        ReadOnlySpan<char> text = name.AsSpan();
        if (text.EndsWith('.'))
        {
            text = text[..^1];
        }

        return Ascii.EqualsIgnoreCase(NameBytes, text);
    }

    /// <summary>
    /// True when the name ends with <paramref name="suffix"/> (case-insensitive, plain text: ".local" matches
    /// "printer.local"; "local" also matches "notlocal"). Unlike <c>Name.EndsWith</c>, this allocates nothing.
    /// </summary>
    public bool NameEndsWith(string suffix)
    {
        ArgumentNullException.ThrowIfNull(suffix);
        ReadOnlySpan<byte> name = NameBytes;
        return suffix.Length <= name.Length && Ascii.EqualsIgnoreCase(name[^suffix.Length..], suffix);
    }

    /// <summary>The name as lower-case ASCII presentation bytes, no trailing dot (for matchers; no allocation).</summary>
    internal ReadOnlySpan<byte> NameBytes => _name.AsSpan(0, _nameLength);

    /// <summary>The rule step that gave the last non-Continue verdict for this query (its reason), or null.</summary>
    internal RuleStep? DecidedBy { get; set; }

    /// <summary>The client's address as a value (for matchers; no allocation).</summary>
    internal NetAddress ClientAddress => _client;

    /// <summary>
    /// Refills this instance for the next query. <paramref name="lowerCaseName"/> is the presentation form
    /// (lower case, dots between labels, no trailing dot; unusual bytes escaped as \DDD).
    /// </summary>
    internal void Reset(ReadOnlySpan<byte> lowerCaseName, DnsType type, NetAddress client, DnsTransport transport)
    {
        lowerCaseName.CopyTo(_name);
        _nameLength = lowerCaseName.Length;
        _nameString = null;
        _client = client;
        _clientAddress = null;
        Type = type;
        Transport = transport;
        DecidedBy = null;
    }
}
