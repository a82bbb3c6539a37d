using Gateway.Plugins.DnsDot.Api;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.Lists;
using Gateway.Plugins.DnsDot.QueryLog;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Statistics;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Filtering;

/// <summary>
/// What filtering and visibility keep for the plugin's lifetime, across configuration reloads: the lists (their
/// copies and schedules), the blocking pause, the query event queue with its sinks (statistics, the in-memory
/// log, the log file, dnstap) and the admin API routes. <see cref="Configure"/> applies a (re)loaded section.
/// </summary>
internal sealed class FilteringRuntime : IDisposable
{
    private readonly IPluginContext _context;
    private readonly ILogger _logger;
    private readonly QueryRing _ring = new();
    private readonly QueryStatistics _statistics = new();
    private QueryLogWriter? _logWriter;
    private QueryLogOptions? _logOptions;
    private Dnstap.DnstapWriter? _dnstap;
    private DnstapOptions? _dnstapOptions;
    private IDisposable? _api;
    private DnsResolver? _resolver;

    public FilteringRuntime(IPluginContext context, ILogger logger)
    {
        _context = context;
        _logger = logger;
        Lists = new ListManager(context.ProtectSocket, context.Meter, logger);
        Pause = new BlockingPause(logger);
        Events = new QueryEventQueue(logger, context.Meter);
    }

    /// <summary>The configured lists (rule scripts name them).</summary>
    public ListManager Lists { get; }

    /// <summary>The blocking pause.</summary>
    public BlockingPause Pause { get; }

    /// <summary>The queue every answered query goes through.</summary>
    public QueryEventQueue Events { get; }

    /// <summary>Statistics (tests).</summary>
    internal QueryStatistics Statistics => _statistics;

    /// <summary>The in-memory query log (tests).</summary>
    internal QueryRing Ring => _ring;

    /// <summary>
    /// Applies <paramref name="options"/>: lists (unchanged ones keep their state), the log file and dnstap sinks,
    /// and returns <paramref name="snapshot"/> with its <see cref="FilterSnapshot"/>. Throws
    /// <see cref="ArgumentException"/> for a section validation should have refused (the old state stays).
    /// </summary>
    public ResolverSnapshot Configure(DnsDotOptions options, ResolverSnapshot snapshot)
    {
        string configDirectory = _context.ConfigDirectory;
        string state = StateDirectory.Resolve(options.StateDirectory, configDirectory);
        IReadOnlyList<SubscribedList> lists = Lists.Apply(options.Lists, configDirectory, state);
        FilterSnapshot filter = FilterSnapshot.Build(options, snapshot.Groups, lists, Pause, Lists);
        ConfigureSinks(options);
        return snapshot.WithFilter(filter);
    }

    /// <summary>Makes <paramref name="resolver"/> report to the queue and serves the admin API from it.</summary>
    public void Attach(DnsResolver resolver)
    {
        _resolver = resolver;
        resolver.Observer = Events;
        _api ??= new DnsDotApi(() => _resolver?.Snapshot, _statistics, _ring, Lists, Pause).Map(_context);
    }

    public void Dispose()
    {
        _api?.Dispose();
        _api = null;
        if (_resolver is not null)
        {
            _resolver.Observer = null;
        }

        Events.Dispose();
        _logWriter?.Dispose();
        _dnstap?.Dispose();
        Lists.Dispose();
    }

    private void ConfigureSinks(DnsDotOptions options)
    {
        bool anonymize = options.QueryLog?.Anonymize ?? false;
        _ring.Anonymize = anonymize;
        _statistics.Anonymize = anonymize;
        QueryLogWriter? oldWriter = null;
        if (!Equivalent(options.QueryLog, _logOptions))
        {
            oldWriter = _logWriter;
            _logWriter = options.QueryLog is { Path: not null } log ? new QueryLogWriter(log, _context.ConfigDirectory, _logger) : null;
            _logOptions = options.QueryLog;
        }

        Dnstap.DnstapWriter? oldDnstap = null;
        if (!Equivalent(options.Dnstap, _dnstapOptions))
        {
            oldDnstap = _dnstap;
            _dnstap = options.Dnstap is { } dnstap ? new Dnstap.DnstapWriter(dnstap, _context.ConfigDirectory, _context.ProtectSocket, _context.Meter, _logger) : null;
            _dnstapOptions = options.Dnstap;
        }

        var sinks = new List<IQueryEventSink> { _statistics, _ring };
        if (_logWriter is not null)
        {
            sinks.Add(_logWriter);
        }

        if (_dnstap is not null)
        {
            sinks.Add(_dnstap);
        }

        Events.SetSinks([.. sinks], wantsUpstream: _dnstap is not null);

        // The writer thread may be inside a batch with the old sinks: let it finish before closing them.
        if (oldWriter is not null || oldDnstap is not null)
        {
            Events.Flush(TimeSpan.FromSeconds(2));
            oldWriter?.Dispose();
            oldDnstap?.Dispose();
        }
    }

    private static bool Equivalent(QueryLogOptions? a, QueryLogOptions? b) =>
        a is null ? b is null : b is not null && a.Path == b.Path && a.MaxSizeMB == b.MaxSizeMB && a.Keep == b.Keep && a.Anonymize == b.Anonymize;

    private static bool Equivalent(DnstapOptions? a, DnstapOptions? b) =>
        a is null ? b is null : b is not null && a.Socket == b.Socket && a.Address == b.Address && a.Identity == b.Identity;
}
