using Gateway.Plugins.HttpProxy.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.HttpProxy;

public sealed class WarningLimiterTests
{
    [Fact]
    public void ShouldLog_FloodOfOneKind_FiveLinesPerWindowThenASummary()
    {
        var logger = new ListLogger();
        long now = 1_000_000;
        var limiter = new WarningLimiter(logger, () => now);

        int logged = Enumerable.Range(0, 100).Count(_ => limiter.ShouldLog(WarningKind.DestinationDenied));
        now += 10_000;
        bool nextWindow = limiter.ShouldLog(WarningKind.DestinationDenied);

        Assert.Equal(WarningLimiter.Burst, logged);
        Assert.True(nextWindow);
        Assert.Equal(["95 more 'destination denied' warnings were not logged (at most 5 of a kind per 10 s)"], logger.Lines);
    }

    [Fact]
    public void ShouldLog_FloodOfOneKind_DoesNotHideAnotherKind()
    {
        var limiter = new WarningLimiter(new ListLogger(), () => 5);

        for (int i = 0; i < 50; i++)
        {
            limiter.ShouldLog(WarningKind.ClientDenied);
        }

        Assert.True(limiter.ShouldLog(WarningKind.OriginUnreachable));
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add(formatter(state, exception));
    }
}
