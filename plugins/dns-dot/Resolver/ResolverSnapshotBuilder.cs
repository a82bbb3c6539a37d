using System.Globalization;
using System.Net.Sockets;
using System.Reflection;
using System.Security.Cryptography.X509Certificates;
using Gateway.Plugins.DnsDot.Cache;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Resolver;

/// <summary>
/// Builds a <see cref="ResolverSnapshot"/> from bound options, off the query path, reusing what a previous
/// snapshot already has when its inputs are equal: an upstream (pool, warm connections, health) when its
/// <see cref="UpstreamKey"/> is unchanged, a group (and its cache id) when its upstreams and policy are, the
/// cache when <c>cache:</c> is. Nothing is started or stopped here: the caller swaps, pre-warms and drains.
/// </summary>
internal static class ResolverSnapshotBuilder
{
    private const string DefaultGroupKey = "upstreams";

    /// <summary>
    /// Builds the snapshot for <paramref name="options"/>. Throws (IOException, InvalidDataException,
    /// CryptographicException) when a CA file cannot be read or holds no certificate; then nothing was built
    /// and <paramref name="previous"/> is untouched.
    /// </summary>
    public static SnapshotBuild Build(DnsDotOptions options, ResolverSnapshot? previous, string configDirectory, Action<Socket> protectSocket, IRuleEvaluator? rules, DnsDotMetrics metrics, ILogger logger)
    {
        var settings = new UpstreamSettings
        {
            ConnectTimeout = TimeSpan.FromMilliseconds(options.ConnectTimeoutMs),
            HandshakeTimeout = TimeSpan.FromMilliseconds(options.HandshakeTimeoutMs),
            ReadTimeout = TimeSpan.FromMilliseconds(options.ReadTimeoutMs),
            IdleTimeout = TimeSpan.FromMilliseconds(options.IdleTimeoutMs),
            MinConnections = options.MinConnections,
            MaxConnections = options.UpstreamMaxConnections,
            MaxInFlightPerConnection = options.MaxInFlightPerConnection,
            ProtectSocket = protectSocket,
        };

        // Upstreams of the previous snapshot by (group, key); each is taken at most once.
        var reusable = new Dictionary<(string Group, UpstreamKey Key), Queue<DotUpstream>>();
        var previousGroups = new Dictionary<string, UpstreamGroup>(StringComparer.Ordinal);
        if (previous is not null)
        {
            previousGroups[DefaultGroupKey] = previous.DefaultGroup;
            foreach ((string name, UpstreamGroup group) in previous.Groups)
            {
                if (!ReferenceEquals(group, previous.DefaultGroup))
                {
                    previousGroups["groups." + name] = group;
                }
            }

            foreach ((string groupKey, UpstreamGroup group) in previousGroups)
            {
                foreach (DotUpstream upstream in group.Upstreams)
                {
                    if (upstream.Key is { } key)
                    {
                        if (!reusable.TryGetValue((groupKey, key), out Queue<DotUpstream>? queue))
                        {
                            reusable[(groupKey, key)] = queue = new Queue<DotUpstream>();
                        }

                        queue.Enqueue(upstream);
                    }
                }
            }
        }

        var created = new List<DotUpstream>();
        var changes = new List<string>();
        try
        {
            UpstreamGroup defaultGroup = BuildGroup(DefaultGroupKey, "default", options.Policy, options.Upstreams, previousGroups, reusable, settings, configDirectory, metrics, logger, created, changes);
            var groups = new Dictionary<string, UpstreamGroup>(StringComparer.Ordinal);
            foreach ((string name, UpstreamGroupOptions group) in options.Groups)
            {
                groups[name] = BuildGroup("groups." + name, name, group.Policy ?? options.Policy, group.Upstreams, previousGroups, reusable, settings, configDirectory, metrics, logger, created, changes);
            }

            if (previous is not null)
            {
                foreach (string name in previous.Groups.Keys)
                {
                    if (!options.Groups.ContainsKey(name) && !ReferenceEquals(previous.Groups[name], previous.DefaultGroup))
                    {
                        changes.Add($"group {name} removed");
                    }
                }
            }

            DnsCache? cache = BuildCache(options.Cache, previous, changes);
            if (previous is not null)
            {
                DescribeOptionChanges(previous.Options, options, changes);
            }

            var snapshot = new ResolverSnapshot(options, defaultGroup, groups, cache, rules);
            var kept = new HashSet<DotUpstream>(snapshot.Upstreams);
            var retired = new List<DotUpstream>();
            if (previous is not null)
            {
                foreach (DotUpstream upstream in previous.Upstreams)
                {
                    if (!kept.Contains(upstream))
                    {
                        retired.Add(upstream);
                    }
                }
            }

            return new SnapshotBuild(snapshot, created, retired, changes);
        }
        catch
        {
            foreach (DotUpstream upstream in created)
            {
                metrics.Unregister(upstream);
            }

            throw;
        }
    }

    private static UpstreamGroup BuildGroup(string groupKey, string name, string policyName, List<UpstreamOptions> configured, Dictionary<string, UpstreamGroup> previousGroups,
        Dictionary<(string Group, UpstreamKey Key), Queue<DotUpstream>> reusable, UpstreamSettings settings, string configDirectory, DnsDotMetrics metrics, ILogger logger,
        List<DotUpstream> created, List<string> changes)
    {
        var upstreams = new List<DotUpstream>(configured.Count);
        var added = new List<string>();
        foreach (UpstreamOptions options in configured)
        {
            string? caPem = options.CaFile is { } caFile ? File.ReadAllText(DnsDotOptionsValidator.ResolvePath(configDirectory, caFile)) : null;
            var key = new UpstreamKey(options.Address!, options.TlsName!, caPem, string.Join(',', options.SpkiPins), settings);
            if (reusable.TryGetValue((groupKey, key), out Queue<DotUpstream>? queue) && queue.Count > 0)
            {
                upstreams.Add(queue.Dequeue());
                continue;
            }

            DotUpstream upstream = Create(key, options, settings, metrics, logger);
            created.Add(upstream);
            upstreams.Add(upstream);
            added.Add(options.Address!);
        }

        ILoadBalancingPolicy policy = LoadBalancingPolicies.Create(policyName)!;
        if (!previousGroups.TryGetValue(groupKey, out UpstreamGroup? old))
        {
            if (previousGroups.Count > 0)
            {
                changes.Add($"{groupKey} added");
            }

            return new UpstreamGroup(name, policy, upstreams);
        }

        bool sameUpstreams = old.Upstreams.Count == upstreams.Count;
        for (int i = 0; sameUpstreams && i < upstreams.Count; i++)
        {
            sameUpstreams = ReferenceEquals(old.Upstreams[i], upstreams[i]);
        }

        bool samePolicy = string.Equals(old.Policy.Name, policy.Name, StringComparison.OrdinalIgnoreCase);
        if (sameUpstreams && samePolicy)
        {
            // Same upstreams in the same order, same policy: keep the group (policy state, cache id).
            return old;
        }

        if (!samePolicy)
        {
            changes.Add($"{groupKey} policy {old.Policy.Name} -> {policy.Name}");
        }

        if (sameUpstreams)
        {
            // The same upstreams answer: cached answers stay valid.
            return new UpstreamGroup(name, policy, upstreams, old.CacheId);
        }

        var removed = new List<string>();
        foreach (DotUpstream upstream in old.Upstreams)
        {
            if (!upstreams.Contains(upstream))
            {
                removed.Add(upstream.Name);
            }
        }

        if (added.Count == 0 && removed.Count == 0)
        {
            changes.Add($"{groupKey} reordered");
        }
        else
        {
            var phrase = new List<string>();
            foreach (string address in added)
            {
                phrase.Add((removed.Remove(address) ? "~" : "+") + address);
            }

            foreach (string address in removed)
            {
                phrase.Add("-" + address);
            }

            changes.Add($"{groupKey} {string.Join(' ', phrase)}");
        }

        // Other upstreams may answer differently: a new cache id, so nothing cached from the old set is served.
        return new UpstreamGroup(name, policy, upstreams);
    }

    private static DotUpstream Create(UpstreamKey key, UpstreamOptions options, UpstreamSettings settings, DnsDotMetrics metrics, ILogger logger)
    {
        X509Certificate2Collection? trust = null;
        if (key.CaPem is { } pem)
        {
            trust = new X509Certificate2Collection();
            trust.ImportFromPem(pem);
            if (trust.Count == 0)
            {
                // ImportFromPem skips what is not a certificate: an empty trust store would refuse every handshake.
                throw new InvalidDataException($"caFile '{options.CaFile}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
            }
        }

        var pins = new byte[options.SpkiPins.Count][];
        for (int i = 0; i < pins.Length; i++)
        {
            pins[i] = DnsDotOptionsValidator.DecodePin(options.SpkiPins[i])!;
        }

        NetEndpoint endpoint = NetEndpoint.Parse(key.Address);
        return new DotUpstream(key.Address, endpoint.ToIPEndPoint(), new DotTlsVerifier(key.TlsName, trust, pins), settings, metrics, logger) { Key = key };
    }

    private static DnsCache? BuildCache(CacheOptions options, ResolverSnapshot? previous, List<string> changes)
    {
        if (previous is null)
        {
            return options.Enabled ? new DnsCache(options) : null;
        }

        CacheOptions old = previous.Options.Cache;
        if (old == options)
        {
            return previous.Cache;
        }

        if (!options.Enabled)
        {
            changes.Add("cache disabled");
            return null;
        }

        // Changed limits (TTL caps, stale age, size) would not hold for entries stored under the old ones: start empty.
        changes.Add(old.Enabled ? "cache options changed (cache cleared)" : "cache enabled");
        return new DnsCache(options);
    }

    // The scalar keys (timeouts, sizes, connection limits, ECS): named when they change.
    private static void DescribeOptionChanges(DnsDotOptions old, DnsDotOptions next, List<string> changes)
    {
        foreach (PropertyInfo property in typeof(DnsDotOptions).GetProperties())
        {
            if (property.PropertyType != typeof(int) && property.PropertyType != typeof(bool))
            {
                continue;
            }

            object? a = property.GetValue(old);
            object? b = property.GetValue(next);
            if (!Equals(a, b))
            {
                string key = char.ToLowerInvariant(property.Name[0]) + property.Name[1..];
                changes.Add(string.Create(CultureInfo.InvariantCulture, $"{key} {a} -> {b}"));
            }
        }

        if (!old.Rules.SequenceEqual(next.Rules, StringComparer.Ordinal))
        {
            changes.Add("rules");
        }
    }
}
