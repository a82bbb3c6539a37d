using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// Counts rule lambdas that throw and logs them at a bounded rate (one line per 10 s, with the number
/// suppressed since), so a rule failing on every query cannot flood the log.
/// </summary>
internal sealed class RuleFailureReporter
{
    private static readonly long LogIntervalTicks = TimeSpan.FromSeconds(10).Ticks;

    private readonly ILogger _logger;
    private readonly RuleMetrics _metrics;
    private long _nextLogTicks;
    private long _suppressed;
    private long _total;

    public RuleFailureReporter(ILogger logger, RuleMetrics metrics)
    {
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>Rule failures so far.</summary>
    public long Total => Interlocked.Read(ref _total);

    public void Report(RuleStep step, DnsQuery query, Exception exception)
    {
        Interlocked.Increment(ref _total);
        _metrics.Failure(step);
        long now = Environment.TickCount64 * TimeSpan.TicksPerMillisecond;
        long next = Interlocked.Read(ref _nextLogTicks);
        if (now < next || Interlocked.CompareExchange(ref _nextLogTicks, now + LogIntervalTicks, next) != next)
        {
            Interlocked.Increment(ref _suppressed);
            return;
        }

        long suppressed = Interlocked.Exchange(ref _suppressed, 0);
        RulesLog.RuleThrew(_logger, step.Name, query.Name, query.Type, exception.GetType().Name, exception.Message, suppressed);
    }
}
