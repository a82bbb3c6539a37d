using System.Diagnostics;
using Gateway.Plugins.DnsDot.Cache;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Upstreams;

namespace Gateway.Plugins.DnsDot.Resolver;

/// <summary>
/// Everything a query needs from the configuration, immutable: options, upstream groups, cache and rules.
/// A reload builds a new one off the query path and swaps it in with one reference write (STYLE: config that
/// changes at run time is an immutable snapshot swapped atomically); a query reads it once, in
/// <see cref="DnsResolver.Begin"/>, and finishes with the snapshot it started with.
/// </summary>
internal sealed class ResolverSnapshot
{
    /// <summary>Creates a snapshot.</summary>
    public ResolverSnapshot(DnsDotOptions options, UpstreamGroup defaultGroup, IReadOnlyDictionary<string, UpstreamGroup> groups, DnsCache? cache, IRuleEvaluator? rules)
    {
        Options = options;
        DefaultGroup = defaultGroup;
        Groups = groups;
        Cache = cache;
        Rules = rules;
        QueryTimeoutTicks = options.QueryTimeoutMs * Stopwatch.Frequency / 1000;
        ClientIdleTimeout = TimeSpan.FromMilliseconds(options.ClientIdleTimeoutMs);
        var upstreams = new List<DnsUpstream>(defaultGroup.Upstreams);
        foreach (UpstreamGroup group in groups.Values)
        {
            if (!ReferenceEquals(group, defaultGroup))
            {
                upstreams.AddRange(group.Upstreams);
            }
        }

        Upstreams = [.. upstreams];
    }

    /// <summary>The bound options.</summary>
    public DnsDotOptions Options { get; }

    /// <summary>The default group (<c>upstreams:</c>).</summary>
    public UpstreamGroup DefaultGroup { get; }

    /// <summary>Named groups (<c>groups:</c>) for rules' <c>Forward(group)</c>.</summary>
    public IReadOnlyDictionary<string, UpstreamGroup> Groups { get; }

    /// <summary>The cache, or null when <c>cache.enabled</c> is false.</summary>
    public DnsCache? Cache { get; }

    /// <summary>The rule evaluator, or null for no rules.</summary>
    public IRuleEvaluator? Rules { get; }

    /// <summary><c>queryTimeoutMs</c> in Stopwatch ticks.</summary>
    public long QueryTimeoutTicks { get; }

    /// <summary><c>clientIdleTimeoutMs</c>.</summary>
    public TimeSpan ClientIdleTimeout { get; }

    /// <summary>Every upstream of every group (each group has its own pools).</summary>
    public DnsUpstream[] Upstreams { get; }

    /// <summary>
    /// Local records, per-client policy, lists and blocking mode (<see cref="Filtering.FilterSnapshot"/>); null when
    /// the resolver was built without them (tests of the forwarding path).
    /// </summary>
    public Filtering.FilterSnapshot? Filter { get; private init; }

    /// <summary>The same snapshot with other rules (a rule reload or the test seam).</summary>
    public ResolverSnapshot WithRules(IRuleEvaluator? rules) => new(Options, DefaultGroup, Groups, Cache, rules) { Filter = Filter };

    /// <summary>The same snapshot with other filtering (start-up and reloads).</summary>
    public ResolverSnapshot WithFilter(Filtering.FilterSnapshot? filter) => new(Options, DefaultGroup, Groups, Cache, Rules) { Filter = filter };
}
