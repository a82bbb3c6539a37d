using Gateway.Plugins.DnsDot.Clients;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Lists;
using Gateway.Plugins.DnsDot.Records;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Filtering;

/// <summary>
/// The filtering part of a configuration snapshot: local records, the per-client policies (lists, upstream
/// group, blocking on/off) and how blocked names are answered. Immutable and swapped with the resolver's
/// snapshot; the lists it points to swap their own matchers when they refresh, and the pause state is the
/// plugin's. Per query: one prefix-trie walk for the client, one hash probe per label suffix per list.
/// </summary>
internal sealed class FilterSnapshot
{
    private readonly ClientPolicyTable _clients;
    private readonly NetAddress[] _v4;
    private readonly NetAddress[] _v6;

    private FilterSnapshot(LocalZone? records, ClientPolicyTable clients, ClientPolicy defaultPolicy, IReadOnlyDictionary<string, ClientPolicy> policies,
        IReadOnlyList<SubscribedList> lists, BlockingMode mode, NetAddress[] v4, NetAddress[] v6, uint blockedTtl, BlockingPause pause, ListManager? manager)
    {
        Records = records;
        _clients = clients;
        Default = defaultPolicy;
        Policies = policies;
        Lists = lists;
        Mode = mode;
        _v4 = v4;
        _v6 = v6;
        BlockedTtl = blockedTtl;
        Pause = pause;
        Manager = manager;
    }

    /// <summary>The <c>records:</c>, or null when there are none.</summary>
    public LocalZone? Records { get; }

    /// <summary>The policy of clients in no group: every list, the default upstreams, blocking on.</summary>
    public ClientPolicy Default { get; }

    /// <summary>The <c>clients:</c> groups by name.</summary>
    public IReadOnlyDictionary<string, ClientPolicy> Policies { get; }

    /// <summary>Every list, in configuration order.</summary>
    public IReadOnlyList<SubscribedList> Lists { get; }

    /// <summary><c>blockingMode</c>.</summary>
    public BlockingMode Mode { get; }

    /// <summary><c>blockedTtl</c>, seconds.</summary>
    public uint BlockedTtl { get; }

    /// <summary>The plugin's pause state.</summary>
    public BlockingPause Pause { get; }

    /// <summary>Where list hits are counted (null in tests that build lists by hand).</summary>
    public ListManager? Manager { get; }

    /// <summary>
    /// Builds the snapshot for validated <paramref name="options"/>; <paramref name="groups"/> are the resolver's
    /// upstream groups (for <c>clients.*.upstream</c>). Throws <see cref="ArgumentException"/> for what validation
    /// would have reported.
    /// </summary>
    public static FilterSnapshot Build(DnsDotOptions options, IReadOnlyDictionary<string, UpstreamGroup> groups, IReadOnlyList<SubscribedList> lists, BlockingPause pause, ListManager? manager)
    {
        LocalZone? records = null;
        if (options.Records.Count > 0)
        {
            string? first = null;
            records = LocalZone.Build(options.Records, (index, message) => first ??= $"records:{index}: {message}") ?? throw new ArgumentException(first);
        }

        SubscribedList[] allow = [.. lists.Where(list => list.IsAllow)];
        SubscribedList[] block = [.. lists.Where(list => !list.IsAllow)];
        var table = new ClientPolicyTable();
        var policies = new Dictionary<string, ClientPolicy>(StringComparer.Ordinal);
        foreach ((string name, ClientGroupOptions group) in options.Clients)
        {
            UpstreamGroup? upstream = null;
            if (group.Upstream is { } upstreamName && !groups.TryGetValue(upstreamName, out upstream))
            {
                throw new ArgumentException($"clients:{name}:upstream: no upstream group '{upstreamName}' in groups:");
            }

            SubscribedList[] groupAllow = allow;
            SubscribedList[] groupBlock = block;
            if (group.Lists is { } selected)
            {
                groupAllow = [.. allow.Where(list => selected.Contains(list.Name))];
                groupBlock = [.. block.Where(list => selected.Contains(list.Name))];
            }

            var policy = new ClientPolicy(name, groupAllow, groupBlock, upstream, group.Blocking);
            policies[name] = policy;
            foreach (string network in group.Networks)
            {
                if (!IpPrefix.TryParse(network, out IpPrefix prefix) || !table.Add(prefix, policy))
                {
                    throw new ArgumentException($"clients:{name}:networks: '{network}' is not a network or is claimed by another group");
                }
            }
        }

        var v4 = new List<NetAddress>();
        var v6 = new List<NetAddress>();
        foreach (string text in options.BlockingIps)
        {
            NetAddress address = NetAddress.Parse(text);
            (address.IsV4 ? v4 : v6).Add(address);
        }

        BlockingMode mode = Enum.Parse<BlockingMode>(options.BlockingMode, ignoreCase: true);
        return new FilterSnapshot(records, table, new ClientPolicy(null, allow, block, null, blocking: true), policies, lists, mode, [.. v4], [.. v6], (uint)options.BlockedTtl, pause, manager);
    }

    /// <summary>The policy for <paramref name="client"/>.</summary>
    public ClientPolicy PolicyFor(NetAddress client) => _clients.Match(client) ?? Default;

    /// <summary>True when blocking applies to clients of <paramref name="policy"/> right now (on for the group, not paused).</summary>
    public bool BlockingActive(ClientPolicy policy) => policy.Blocking && !Pause.IsPaused(policy.Name);

    /// <summary>
    /// Checks the policy's lists for <paramref name="name"/>: an allow list (or an <c>@@</c> exception in any list)
    /// beats a block. Returns the deciding list (counted as a hit) and whether it blocks; null when no list mentions it.
    /// </summary>
    public SubscribedList? CheckLists(ClientPolicy policy, ReadOnlySpan<byte> name, out bool blocked)
    {
        blocked = false;
        foreach (SubscribedList list in policy.Allow)
        {
            if (list.Match(name) != ListMatch.None)
            {
                return Hit(list);
            }
        }

        SubscribedList? blocking = null;
        foreach (SubscribedList list in policy.Block)
        {
            ListMatch match = list.Match(name);
            if (match == ListMatch.Allow)
            {
                return Hit(list);
            }

            if (match == ListMatch.Block && blocking is null)
            {
                // Later block lists may still hold an exception (@@) for the name: keep looking.
                blocking = list;
            }
        }

        blocked = blocking is not null;
        return blocking is null ? null : Hit(blocking);
    }

    /// <summary>
    /// Writes the answer for a blocked name as <c>blockingMode</c> says, with an Extended DNS Error "Blocked"
    /// (RFC 8914 §4.16) carrying <paramref name="reason"/> when the client sent EDNS.
    /// </summary>
    public int WriteBlocked(ReadOnlySpan<byte> query, in DnsRequestInfo info, int limit, string reason, Span<byte> destination)
    {
        int rcode = Mode switch
        {
            BlockingMode.NxDomain => DnsConstants.RcodeNxDomain,
            BlockingMode.Refused => DnsConstants.RcodeRefused,
            _ => DnsConstants.RcodeNoError,
        };
        var response = new ResponseBuilder(query, info, rcode, authoritative: false, destination);
        if (Mode is BlockingMode.NullIp or BlockingMode.CustomIp && info.QClass == DnsConstants.ClassIn && info.QType is DnsConstants.TypeA or DnsConstants.TypeAaaa)
        {
            bool v4 = info.QType == DnsConstants.TypeA;
            Span<byte> rdata = stackalloc byte[16];
            if (Mode == BlockingMode.NullIp)
            {
                rdata.Clear();
                response.AnswerAtQuestion(info.QType, BlockedTtl, rdata[..(v4 ? 4 : 16)]);
            }
            else
            {
                foreach (NetAddress address in v4 ? _v4 : _v6)
                {
                    address.WriteTo(rdata);
                    response.AnswerAtQuestion(info.QType, BlockedTtl, rdata[..address.ByteLength]);
                }
            }
        }

        if (response.AnswerCount == 0 && Mode != BlockingMode.Refused)
        {
            // NXDOMAIN or NODATA, cached for blockedTtl (RFC 2308 §5).
            response.NegativeSoa(BlockedTtl);
        }

        Span<byte> text = stackalloc byte[255];
        int textLength = System.Text.Encoding.ASCII.GetBytes(reason.AsSpan(0, Math.Min(reason.Length, text.Length)), text);
        return response.Finish(info, limit, ResponseBuilder.EdeBlocked, text[..textLength]);
    }

    private SubscribedList Hit(SubscribedList list)
    {
        if (Manager is { } manager)
        {
            manager.CountHit(list);
        }
        else
        {
            list.CountHit();
        }

        return list;
    }
}
