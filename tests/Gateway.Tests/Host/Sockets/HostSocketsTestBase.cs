using System.Diagnostics.Metrics;
using Gateway.Host.Networking;
using Gateway.Host.Sockets;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Host.Sockets;

/// <summary>What the host-socket test classes share: a meter of their own, the sockets, a handler guard.</summary>
public abstract class HostSocketsTestBase : IDisposable
{
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    protected readonly Meter _meter;
    private protected readonly HostSockets _sockets;
    private protected readonly PluginHandlerGuard _guard;

    protected HostSocketsTestBase()
    {
        _meter = new Meter($"Gateway.Tests.{GetType().Name}");
        _sockets = new HostSockets(NullLoggerFactory.Instance, _meter);
        _guard = new PluginHandlerGuard("test", NullLogger.Instance, _meter);
    }

    public void Dispose()
    {
        _meter.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>An endpoint that may have port 0 (the kernel picks one).</summary>
    protected static NetEndpoint Ephemeral(string endpoint)
    {
        Assert.True(NetEndpoint.TryParse(endpoint, out NetEndpoint parsed, allowZeroPort: true));
        return parsed;
    }
}
