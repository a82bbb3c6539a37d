using System.Globalization;
using System.Net.Sockets;
using System.Reflection;
using System.Security.Cryptography.X509Certificates;
using Gateway.Plugins.DnsDot.Cache;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Plugins.DnsDot.Upstreams.Https;
using Gateway.Plugins.DnsDot.Upstreams.Udp;
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

        // Host names in upstream URLs: through the bootstrap servers, or the system resolver (never through ourselves).
        var servers = new List<NetEndpoint>();
        foreach (string server in options.Bootstrap)
        {
            if (ServingOptionsValidator.TryParseServer(server, out NetEndpoint parsed))
            {
                servers.Add(parsed);
            }
        }

        var bootstrap = new BootstrapResolver(servers, settings.ConnectTimeout, protectSocket);
        string bootstrapKey = string.Join(',', servers);

        // Upstreams of the previous snapshot by (group, key); each is taken at most once.
        var reusable = new Dictionary<(string Group, UpstreamKey Key), Queue<DnsUpstream>>();
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
                foreach (DnsUpstream upstream in group.Upstreams)
                {
                    if (upstream.Key is { } key)
                    {
                        if (!reusable.TryGetValue((groupKey, key), out Queue<DnsUpstream>? queue))
                        {
                            reusable[(groupKey, key)] = queue = new Queue<DnsUpstream>();
                        }

                        queue.Enqueue(upstream);
                    }
                }
            }
        }

        var created = new List<DnsUpstream>();
        var changes = new List<string>();
        try
        {
            var build = new GroupBuild(previousGroups, reusable, settings, bootstrap, bootstrapKey, configDirectory, metrics, logger, created, changes);
            UpstreamGroup defaultGroup = BuildGroup(DefaultGroupKey, "default", options.Policy, options.Upstreams, build);
            var groups = new Dictionary<string, UpstreamGroup>(StringComparer.Ordinal);
            foreach ((string name, UpstreamGroupOptions group) in options.Groups)
            {
                groups[name] = BuildGroup("groups." + name, name, group.Policy ?? options.Policy, group.Upstreams, build);
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
            var kept = new HashSet<DnsUpstream>(snapshot.Upstreams);
            var retired = new List<DnsUpstream>();
            if (previous is not null)
            {
                foreach (DnsUpstream upstream in previous.Upstreams)
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
            foreach (DnsUpstream upstream in created)
            {
                metrics.Unregister(upstream);
            }

            throw;
        }
    }

    private static UpstreamGroup BuildGroup(string groupKey, string name, string policyName, List<UpstreamOptions> configured, GroupBuild build)
    {
        Dictionary<string, UpstreamGroup> previousGroups = build.PreviousGroups;
        List<string> changes = build.Changes;
        var upstreams = new List<DnsUpstream>(configured.Count);
        var added = new List<string>();
        foreach (UpstreamOptions options in configured)
        {
            UpstreamAddress.TryParse(options.Address, out UpstreamAddress address, out _);
            string? caPem = options.CaFile is { } caFile ? File.ReadAllText(DnsDotOptionsValidator.ResolvePath(build.ConfigDirectory, caFile)) : null;
            string tlsName = address.IsPlain ? "" : options.TlsName ?? address.Host;
            var key = new UpstreamKey(options.Address!, tlsName, caPem, string.Join(',', options.SpkiPins), build.Settings, address.HostIsName ? build.BootstrapKey : "");
            if (build.Reusable.TryGetValue((groupKey, key), out Queue<DnsUpstream>? queue) && queue.Count > 0)
            {
                upstreams.Add(queue.Dequeue());
                continue;
            }

            DnsUpstream upstream = Create(key, address, options, build);
            build.Created.Add(upstream);
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
        foreach (DnsUpstream upstream in old.Upstreams)
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

    private static DnsUpstream Create(UpstreamKey key, UpstreamAddress address, UpstreamOptions options, GroupBuild build)
    {
        UpstreamEndpoint endpoint = address.HostIsName
            ? new UpstreamEndpoint(address.Host, address.Port, build.Bootstrap)
            : new UpstreamEndpoint(new NetEndpoint(address.Address, address.Port).ToIPEndPoint());
        if (address.IsPlain)
        {
            return address.Protocol == UpstreamProtocol.Udp
                ? new UdpUpstream(key.Address, endpoint, build.Settings, build.Metrics, build.Logger) { Key = key }
                : new StreamUpstream(key.Address, endpoint, verifier: null, build.Settings, build.Metrics, build.Logger) { Key = key };
        }

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

        var verifier = new DotTlsVerifier(key.TlsName, trust, pins);
        return address.Protocol == UpstreamProtocol.Https
            ? new HttpsUpstream(key.Address, address, endpoint, verifier, build.Settings, build.Metrics, build.Logger) { Key = key }
            : new StreamUpstream(key.Address, endpoint, verifier, build.Settings, build.Metrics, build.Logger) { Key = key };
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

    /// <summary>What building the groups of one snapshot shares.</summary>
    private sealed record GroupBuild(
        Dictionary<string, UpstreamGroup> PreviousGroups,
        Dictionary<(string Group, UpstreamKey Key), Queue<DnsUpstream>> Reusable,
        UpstreamSettings Settings,
        BootstrapResolver Bootstrap,
        string BootstrapKey,
        string ConfigDirectory,
        DnsDotMetrics Metrics,
        ILogger Logger,
        List<DnsUpstream> Created,
        List<string> Changes);
}
