using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Server.Https;

/// <summary>
/// The plugin's logger factory as Kestrel sees it, minus one message that is wrong here: Kestrel warns at start that
/// HTTP/2 needs TLS because it does not see <c>UseHttps</c> on the listener (event 64, Http2DisabledWithHttp1AndNoTls),
/// but the connections it is handed are TLS — decrypted by <see cref="DohServer"/> — and carry the ALPN result, so
/// HTTP/2 is negotiated as usual.
/// </summary>
internal sealed class KestrelLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    private const int Http2DisabledWithHttp1AndNoTls = 64;

    public ILogger CreateLogger(string categoryName)
    {
        ILogger logger = inner.CreateLogger(categoryName);
        return categoryName.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal) ? new Filtered(logger) : logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose()
    {
        // The plugin's factory belongs to the host.
    }

    private sealed class Filtered(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id != Http2DisabledWithHttp1AndNoTls)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
