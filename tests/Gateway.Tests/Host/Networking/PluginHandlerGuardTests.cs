using System.Diagnostics.Metrics;
using Gateway.Host.Networking;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.Host.Networking;

/// <summary>
/// Handler failures are logged at a bounded rate per kind of failure: a flood of one exception does not hide a second,
/// different one, and a first report never claims "0 more failures".
/// </summary>
public sealed class PluginHandlerGuardTests : IDisposable
{
    private readonly Meter _meter = new("Gateway.Tests.PluginHandlerGuard");
    private readonly RecordingLogger _log = new();

    public void Dispose() => _meter.Dispose();

    [Fact]
    public void Report_FloodOfOneFailureThenAnother_BothLogged()
    {
        var guard = new PluginHandlerGuard("p", _log, _meter);

        for (int i = 0; i < 100; i++)
        {
            guard.InvokeDatagram(new Throwing(() => throw new InvalidOperationException("known")), default, "x"u8);
        }

        guard.InvokeDatagram(new Throwing(() => throw new FormatException("different")), default, "x"u8);

        Assert.Equal(2, _log.Entries.Count);
        Assert.Contains(_log.Entries, e => e.Exception is InvalidOperationException);
        Assert.Contains(_log.Entries, e => e.Exception is FormatException);
    }

    [Fact]
    public void Report_FirstFailure_MessageHasNoSuppressedCount()
    {
        var guard = new PluginHandlerGuard("p", _log, _meter);

        guard.InvokeDatagram(new Throwing(() => throw new InvalidOperationException("boom")), default, "x"u8);

        string message = Assert.Single(_log.Entries).Message;
        Assert.Equal("plugin p: a handler threw; the plugin keeps serving", message);
        Assert.DoesNotContain("0 more", message);
    }

    [Fact]
    public void Report_SameFailureRepeated_LoggedOnceWithinInterval()
    {
        var guard = new PluginHandlerGuard("p", _log, _meter);

        for (int i = 0; i < 50; i++)
        {
            guard.Report(Thrown(() => throw new InvalidOperationException("again")));
        }

        Assert.Single(_log.Entries);
    }

    private static Exception Thrown(Action action)
    {
        try
        {
            action();
        }
        catch (Exception ex)
        {
            return ex;
        }

        throw new InvalidOperationException("did not throw");
    }

    private sealed class Throwing(Action body) : IDatagramHandler
    {
        public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload) => body();
    }

    private sealed class RecordingLogger : ILogger
    {
        public List<(string Message, Exception? Exception)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries)
            {
                Entries.Add((formatter(state, exception), exception));
            }
        }
    }
}
