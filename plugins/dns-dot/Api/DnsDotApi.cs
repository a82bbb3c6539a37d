using System.Text.Json;
using Gateway.Plugins.DnsDot.Filtering;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Lists;
using Gateway.Plugins.DnsDot.QueryLog;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Statistics;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Sdk.Api;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Api;

/// <summary>
/// dns-dot's routes on the admin listener (<c>/api/v1/plugins/dns-dot/…</c>), shapes as /work/helpers/API-CONTRACT.md
/// (docs/api.md) fixes them: <c>GET stats</c>, <c>GET querylog</c>, <c>POST cache/flush</c>, <c>POST blocking/pause</c>.
/// The host authenticates requests before they get here.
/// </summary>
internal sealed class DnsDotApi
{
    /// <summary>Most entries one <c>querylog</c> request returns.</summary>
    public const int MaxQueryLogLimit = 1000;

    /// <summary>Longest pause, in minutes (a day).</summary>
    public const int MaxPauseMinutes = 1440;

    private readonly Func<ResolverSnapshot?> _snapshot;
    private readonly QueryStatistics _statistics;
    private readonly QueryRing _ring;
    private readonly ListManager _lists;
    private readonly BlockingPause _pause;

    public DnsDotApi(Func<ResolverSnapshot?> snapshot, QueryStatistics statistics, QueryRing ring, ListManager lists, BlockingPause pause)
    {
        _snapshot = snapshot;
        _statistics = statistics;
        _ring = ring;
        _lists = lists;
        _pause = pause;
    }

    /// <summary>Registers the routes; dispose the result to remove them.</summary>
    public IDisposable Map(Gateway.Sdk.Plugins.IPluginContext context)
    {
        var registrations = new List<IDisposable>
        {
            context.MapApi("GET", "stats", Stats),
            context.MapApi("GET", "querylog", QueryLog),
            context.MapApi("POST", "cache/flush", FlushCache),
            context.MapApi("POST", "blocking/pause", PauseBlocking),
        };
        return new Registrations(registrations);
    }

    /// <summary>GET stats.</summary>
    public ValueTask<ApiResponse> Stats(ApiRequest request, CancellationToken cancellationToken)
    {
        StatisticsView view = _statistics.Snapshot();
        DateTimeOffset now = _pause.Now;
        var lists = new List<ListStats>();
        foreach (SubscribedList list in _lists.Lists)
        {
            DateTimeOffset? updated = list.Updated;
            lists.Add(new ListStats(list.Name, list.IsAllow ? "allow" : "block", list.Entries, list.Hits, updated?.UtcDateTime,
                updated is { } at ? Math.Max(0, (long)(now - at).TotalSeconds) : null, list.LastError, list.Skipped));
        }

        var upstreams = new List<UpstreamStats>();
        RulesStats? rules = null;
        if (_snapshot() is { } snapshot)
        {
            if (snapshot.Rules is Rules.RuleEngine engine)
            {
                rules = new RulesStats(engine.State, engine.Pending?.Queries);
            }

            AddGroup(upstreams, "default", snapshot.DefaultGroup);
            foreach ((string name, UpstreamGroup group) in snapshot.Groups)
            {
                if (!ReferenceEquals(group, snapshot.DefaultGroup))
                {
                    AddGroup(upstreams, name, group);
                }
            }
        }

        var paused = new SortedDictionary<string, DateTime>(StringComparer.Ordinal);
        foreach ((string group, DateTimeOffset until) in _pause.PausedGroups)
        {
            paused[group] = until.UtcDateTime;
        }

        DateTimeOffset? pausedUntil = _pause.PausedUntil;
        var body = new StatsResponse(
            Math.Round(view.LastMinute / 60.0, 2),
            new QueryCounts(view.Total, view.LastMinute, view.LastHour),
            new LatencyStats(view.OneMinute, view.OneHour),
            view.CacheHitRatio,
            view.BlockedRatio,
            view.Series,
            upstreams,
            view.TopNames.Select(pair => new NameCount(pair.Key, pair.Value)).ToList(),
            view.TopClients.Select(pair => new ClientCount(pair.Key, pair.Value)).ToList(),
            view.TopBlocked.Select(pair => new NameCount(pair.Key, pair.Value)).ToList(),
            lists,
            new BlockingStats(pausedUntil is null, pausedUntil?.UtcDateTime, paused),
            rules);
        return ValueTask.FromResult(ApiResponse.Json(body));
    }

    /// <summary>GET querylog?name=&amp;client=&amp;rcode=&amp;limit=.</summary>
    public ValueTask<ApiResponse> QueryLog(ApiRequest request, CancellationToken cancellationToken)
    {
        int limit = 100;
        if (request.QueryValue("limit") is { Length: > 0 } limitText && (!int.TryParse(limitText, out limit) || limit is < 1 or > MaxQueryLogLimit))
        {
            return Error(400, $"limit must be a number from 1 to {MaxQueryLogLimit}");
        }

        IpPrefix? client = null;
        if (request.QueryValue("client") is { Length: > 0 } clientText)
        {
            if (!IpPrefix.TryParse(clientText, out IpPrefix prefix))
            {
                return Error(400, $"client '{clientText}' is not an address or a network such as 192.168.1.0/24");
            }

            client = prefix;
        }

        string? rcode = request.QueryValue("rcode") is { Length: > 0 } rcodeText ? rcodeText.Trim() : null;
        if (rcode is not null && !string.Equals(rcode, "blocked", StringComparison.OrdinalIgnoreCase) && !KnownRcodes.Contains(rcode.ToUpperInvariant()))
        {
            return Error(400, $"rcode '{rcode}' is not one of NOERROR, NXDOMAIN, SERVFAIL, REFUSED, FORMERR, NOTIMP or blocked");
        }

        byte[] json = _ring.Query(request.QueryValue("name"), client, rcode, limit);
        return ValueTask.FromResult(new ApiResponse(200, "application/json; charset=utf-8", json));
    }

    /// <summary>POST cache/flush.</summary>
    public ValueTask<ApiResponse> FlushCache(ApiRequest request, CancellationToken cancellationToken)
    {
        int flushed = _snapshot()?.Cache?.Clear() ?? 0;
        return ValueTask.FromResult(ApiResponse.Json(new FlushResponse(flushed)));
    }

    /// <summary>POST blocking/pause with {"minutes": N, "group": "kids"}.</summary>
    public ValueTask<ApiResponse> PauseBlocking(ApiRequest request, CancellationToken cancellationToken)
    {
        PauseRequest? body;
        try
        {
            body = request.ReadJson<PauseRequest>();
        }
        catch (JsonException e)
        {
            return Error(400, $"the body is not {{\"minutes\": N, \"group\": \"name\"}}: {e.Message}");
        }

        if (body?.Minutes is not { } minutes || minutes is < 0 or > MaxPauseMinutes)
        {
            return Error(400, $"minutes must be 0 (resume now) or 1 to {MaxPauseMinutes}");
        }

        if (body.Group is { } group && !(_snapshot()?.Filter?.Policies.ContainsKey(group) ?? false))
        {
            return Error(400, $"no clients group '{group}' in dns-dot.clients");
        }

        DateTimeOffset until = _pause.Pause(TimeSpan.FromMinutes(minutes), body.Group);
        return ValueTask.FromResult(ApiResponse.Json(new PauseResponse(until.UtcDateTime, body.Group)));
    }

    private static readonly HashSet<string> KnownRcodes = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"];

    private static ValueTask<ApiResponse> Error(int status, string message) => ValueTask.FromResult(ApiResponse.Error(status, message));

    private static void AddGroup(List<UpstreamStats> upstreams, string name, UpstreamGroup group)
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (DnsUpstream upstream in group.Upstreams)
        {
            upstreams.Add(new UpstreamStats(upstream.Name, name, upstream.Health.IsAvailable(now) && !upstream.Health.IsDegraded,
                Math.Round(upstream.LatencyMs, 3), upstream.Outstanding, upstream.Answered, upstream.Failures));
        }
    }

    private sealed class Registrations(List<IDisposable> registrations) : IDisposable
    {
        public void Dispose()
        {
            foreach (IDisposable registration in registrations)
            {
                registration.Dispose();
            }
        }
    }

    internal sealed record PauseRequest(int? Minutes, string? Group);

    internal sealed record PauseResponse(DateTime PausedUntil, string? Group);

    internal sealed record FlushResponse(int Flushed);

    internal sealed record QueryCounts(long Total, long LastMinute, long LastHour);

    internal sealed record LatencyStats(Percentiles OneMinute, Percentiles OneHour);

    internal sealed record UpstreamStats(string Name, string Group, bool Healthy, double LatencyMs, int InFlight, long Queries, long Errors);

    internal sealed record NameCount(string Name, long Count);

    internal sealed record ClientCount(string Client, long Count);

    internal sealed record ListStats(string Name, string Kind, int Entries, long Hits, DateTime? Updated, long? AgeSeconds, string? LastError, int Skipped);

    internal sealed record BlockingStats(bool Enabled, DateTime? PausedUntil, IReadOnlyDictionary<string, DateTime> PausedGroups);

    /// <summary>The rule scripts: state none | compiling | active | failed; queries answered without them so far while not active.</summary>
    internal sealed record RulesStats(string State, long? QueriesWithoutScripts);

    internal sealed record StatsResponse(double Qps, QueryCounts Queries, LatencyStats LatencyMs, double CacheHitRatio, double BlockedRatio, IReadOnlyList<SeriesPoint> Series,
        IReadOnlyList<UpstreamStats> Upstreams, IReadOnlyList<NameCount> TopNames, IReadOnlyList<ClientCount> TopClients, IReadOnlyList<NameCount> TopBlocked,
        IReadOnlyList<ListStats> Lists, BlockingStats Blocking, RulesStats? Rules);
}
