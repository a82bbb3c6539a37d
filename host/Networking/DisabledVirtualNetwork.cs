using System.Collections.Concurrent;
using System.Net.Sockets;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Networking;

/// <summary>
/// The virtual network when <c>host.tun.enabled</c> is false: virtual bindings, routes and hooks are accepted and do
/// nothing (one warning per endpoint so the operator knows why they are not served), and inbound packets are dropped.
/// </summary>
internal sealed partial class DisabledVirtualNetwork : IVirtualNetwork, IPacketInjector
{
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, byte> _warned = new();

    public DisabledVirtualNetwork(ILogger logger)
    {
        _logger = logger;
    }

    /// <inheritdoc/>
    public ITunInfo? Tun => null;

    /// <inheritdoc/>
    public IPacketInjector Inbound => this;

    /// <inheritdoc/>
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public IDisposable BindDatagram(PluginHandlerGuard guard, NetEndpoint endpoint, IDatagramHandler handler) => Ignore(guard, "virtual endpoint " + endpoint);

    /// <inheritdoc/>
    public IDisposable BindStream(PluginHandlerGuard guard, NetEndpoint endpoint, IStreamHandler handler) => Ignore(guard, "virtual endpoint " + endpoint);

    /// <inheritdoc/>
    public IDisposable AddRoute(PluginHandlerGuard guard, IpPrefix prefix, IPacketRoute route) => Ignore(guard, "route " + prefix);

    /// <inheritdoc/>
    public IDisposable AddPacketHook(PluginHandlerGuard guard, IPacketHook hook) => NoRegistration.Instance;

    /// <inheritdoc/>
    public void ProtectSocket(Socket socket)
    {
    }

    /// <inheritdoc/>
    public void Deliver(Span<byte> packet, IPacketRoute origin)
    {
        // No TUN to deliver to: the packet is dropped.
    }

    /// <inheritdoc/>
    public void Flush()
    {
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private NoRegistration Ignore(PluginHandlerGuard guard, string what)
    {
        if (_warned.TryAdd(guard.PluginId + " " + what, 0))
        {
            NeedsTun(_logger, guard.PluginId, what);
        }

        return NoRegistration.Instance;
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Warning, Message = "plugin {PluginId}: {What} needs host.tun.enabled; not served")]
    private static partial void NeedsTun(ILogger logger, string pluginId, string what);

    private sealed class NoRegistration : IDisposable
    {
        public static readonly NoRegistration Instance = new();

        public void Dispose()
        {
        }
    }
}
