using System.Security.Cryptography.X509Certificates;
using Gateway.Plugins.DnsDot.Cache;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Server;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot;

/// <summary>
/// The dns-dot plugin (DESIGN §5, §7): DNS over UDP and TCP on host sockets and virtual endpoints,
/// forwarded over DNS-over-TLS with caching and load balancing.
/// </summary>
/// <remarks>
/// Endpoints: <c>listen:</c> and <c>virtual:</c>. When <c>virtual:</c> is absent and the TUN is enabled, the
/// plugin serves 10.30.30.30:53 and [fd00:30::30]:53 on the TUN. When the whole <c>dns-dot</c> section is
/// absent the plugin stays idle: no listeners, no upstream connections.
/// </remarks>
public sealed class DnsDotPlugin : IGatewayPlugin
{
    /// <summary>The default virtual endpoints when the TUN is enabled and <c>virtual:</c> is absent.</summary>
    internal static readonly NetEndpoint[] DefaultVirtualEndpoints =
    [
        NetEndpoint.Parse("10.30.30.30:53"),
        NetEndpoint.Parse("[fd00:30::30]:53"),
    ];

    // Query timeouts are found by sweeping the pending tables this often (not a timer per query).
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMilliseconds(100);

    private readonly List<IDisposable> _bindings = new();
    private readonly List<DotUpstream> _upstreams = new();
    private CancellationTokenSource? _stopping;
    private Task? _maintenance;
    private Timer? _sweep;
    private DnsResolver? _resolver;
    private IRuleEvaluator? _rules;
    private RuleEngine? _ruleEngine;

    /// <summary>Creates the plugin (the host does this).</summary>
    public DnsDotPlugin()
    {
    }

    /// <summary>Creates the plugin with a rule evaluator (tests, and the seam for the rules component).</summary>
    internal DnsDotPlugin(IRuleEvaluator? rules) => _rules = rules;

    /// <inheritdoc/>
    public string Id => "dns-dot";

    /// <summary>
    /// The rule evaluator consulted for every query; null means no rules. May be set before or after
    /// <see cref="StartAsync"/> and swapped at any time (rule reloads).
    /// </summary>
    internal IRuleEvaluator? RuleEvaluator
    {
        get => _rules;
        set
        {
            _rules = value;
            if (_resolver is not null)
            {
                _resolver.Rules = value;
            }
        }
    }

    /// <summary>The resolver while running (tests).</summary>
    internal DnsResolver? Resolver => _resolver;

    /// <summary>The upstreams while running (tests).</summary>
    internal IReadOnlyList<DotUpstream> Upstreams => _upstreams;

    /// <inheritdoc/>
    public void Validate(PluginValidationContext context)
    {
        DnsDotOptionsValidator.Validate(context);

        // `gateway check` compiles the rule scripts too (DESIGN §6), reporting script errors as file:line:col.
        string[] globs = context.Configuration.GetSection("rules").Get<string[]>() ?? [];
        var groups = new List<string>();
        foreach (IConfigurationSection group in context.Configuration.GetSection("groups").GetChildren())
        {
            groups.Add(group.Key);
        }

        foreach (PluginConfigError error in RuleEngine.Check(globs, context.ConfigDirectory, knownGroups: groups, pluginDirectory: context.PluginDirectory))
        {
            if (error.File is null)
            {
                context.Error(error.KeyPath ?? "rules", error.Message);
            }
            else
            {
                context.ErrorAt(error.File, error.Line, error.Column, error.Message);
            }
        }
    }

    /// <inheritdoc/>
    public Task StartAsync(IPluginContext context, CancellationToken cancellationToken)
    {
        ILogger logger = context.LoggerFactory.CreateLogger("dns-dot");
        IConfiguration section = context.Configuration;
        if (!section.GetChildren().Any())
        {
            DnsDotLog.Idle(logger);
            return Task.CompletedTask;
        }

        var validation = new PluginValidationContext(Id, section, context.ConfigDirectory);
        DnsDotOptionsValidator.Validate(validation);
        if (validation.Errors.Count > 0)
        {
            PluginConfigError first = validation.Errors[0];
            throw new PluginConfigException(first.KeyPath ?? "", first.Message);
        }

        DnsDotOptions options = DnsDotOptionsValidator.Bind(section, null)!;
        var metrics = new DnsDotMetrics(context.Meter);
        var settings = new UpstreamSettings
        {
            ConnectTimeout = TimeSpan.FromMilliseconds(options.ConnectTimeoutMs),
            HandshakeTimeout = TimeSpan.FromMilliseconds(options.HandshakeTimeoutMs),
            ReadTimeout = TimeSpan.FromMilliseconds(options.ReadTimeoutMs),
            IdleTimeout = TimeSpan.FromMilliseconds(options.IdleTimeoutMs),
            MinConnections = options.MinConnections,
            MaxConnections = options.MaxConnections,
            MaxInFlightPerConnection = options.MaxInFlightPerConnection,
            ProtectSocket = context.ProtectSocket,
        };

        UpstreamGroup defaultGroup = CreateGroup("default", options.Policy, options.Upstreams, context, settings, metrics, logger);
        var groups = new Dictionary<string, UpstreamGroup>(StringComparer.Ordinal);
        foreach ((string name, UpstreamGroupOptions group) in options.Groups)
        {
            groups[name] = CreateGroup(name, group.Policy ?? options.Policy, group.Upstreams, context, settings, metrics, logger);
        }

        if (options.Upstreams.Count == 0)
        {
            DnsDotLog.NoUpstreams(logger);
        }

        if (_rules is null && options.Rules.Count > 0)
        {
            _ruleEngine = RuleEngine.Start(options.Rules, context.ConfigDirectory, context.LoggerFactory, context.Meter, context.PluginDirectory);
            _rules = _ruleEngine;
        }

        DnsCache? cache = options.Cache.Enabled ? new DnsCache(options.Cache) : null;
        _resolver = new DnsResolver(options, defaultGroup, groups, cache, metrics, logger) { Rules = _rules };
        _stopping = CancellationTokenSource.CreateLinkedTokenSource(context.Stopping);

        var datagrams = new DnsDatagramHandler(_resolver, metrics);
        var streams = new DnsStreamHandler(_resolver, TimeSpan.FromMilliseconds(options.ClientIdleTimeoutMs), logger, metrics);
        var endpoints = new List<ServiceEndpoint>(context.ConfiguredEndpoints);
        if (context.Tun is not null && section.GetSection("virtual").Value is null && !section.GetSection("virtual").GetChildren().Any())
        {
            foreach (NetEndpoint endpoint in DefaultVirtualEndpoints)
            {
                endpoints.Add(new ServiceEndpoint(EndpointKind.Virtual, endpoint));
            }

            DnsDotLog.DefaultVirtual(logger, string.Join(", ", DefaultVirtualEndpoints));
        }

        foreach (ServiceEndpoint endpoint in endpoints)
        {
            _bindings.Add(context.BindDatagram(endpoint, datagrams));
            _bindings.Add(context.BindStream(endpoint, streams));
            DnsDotLog.Serving(logger, endpoint.ToString());
        }

        _maintenance = MaintainAsync(_stopping.Token);
        _sweep = new Timer(static state => ((DnsDotPlugin)state!).Sweep(), this, SweepInterval, SweepInterval);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (IDisposable binding in _bindings)
        {
            binding.Dispose();
        }

        _bindings.Clear();
        if (_sweep is not null)
        {
            await _sweep.DisposeAsync().ConfigureAwait(false);
            _sweep = null;
        }

        if (_stopping is not null)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        if (_maintenance is not null)
        {
            await _maintenance.ConfigureAwait(false);
        }

        foreach (DotUpstream upstream in _upstreams)
        {
            upstream.Pool.CloseAll();
        }

        _upstreams.Clear();
        if (_ruleEngine is not null)
        {
            _ruleEngine.Dispose();
            if (ReferenceEquals(_rules, _ruleEngine))
            {
                _rules = null;
            }

            _ruleEngine = null;
        }

        // Validation may have compiled scripts too: no Roslyn context outlives the plugin (it would hold it loaded).
        ScriptCompiler.ReleaseCompiler();
        _stopping?.Dispose();
        _stopping = null;
        _resolver = null;
    }

    private UpstreamGroup CreateGroup(string name, string policyName, List<UpstreamOptions> configured, IPluginContext context, UpstreamSettings settings, DnsDotMetrics metrics, ILogger logger)
    {
        var upstreams = new List<DotUpstream>(configured.Count);
        foreach (UpstreamOptions options in configured)
        {
            X509Certificate2Collection? trust = null;
            if (options.CaFile is { } caFile)
            {
                trust = new X509Certificate2Collection();
                trust.ImportFromPemFile(DnsDotOptionsValidator.ResolvePath(context.ConfigDirectory, caFile));
            }

            var pins = new byte[options.SpkiPins.Count][];
            for (int i = 0; i < pins.Length; i++)
            {
                pins[i] = DnsDotOptionsValidator.DecodePin(options.SpkiPins[i])!;
            }

            NetEndpoint endpoint = NetEndpoint.Parse(options.Address!);
            var upstream = new DotUpstream(options.Address!, endpoint.ToIPEndPoint(), new DotTlsVerifier(options.TlsName!, trust, pins), settings, metrics, logger);
            upstreams.Add(upstream);
            _upstreams.Add(upstream);
        }

        return new UpstreamGroup(name, LoadBalancingPolicies.Create(policyName)!, upstreams);
    }

    private void Sweep()
    {
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        foreach (DotUpstream upstream in _upstreams)
        {
            upstream.Sweep(now);
        }
    }

    // Pre-warms the pools at once, then keeps them fresh (dotproxy's stale_timeout) about once a second.
    private async Task MaintainAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        do
        {
            foreach (DotUpstream upstream in _upstreams)
            {
                upstream.Maintain(cancellationToken);
            }
        }
        while (await WaitAsync(timer, cancellationToken).ConfigureAwait(false));
    }

    private static async ValueTask<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
