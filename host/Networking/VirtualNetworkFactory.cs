using System.Diagnostics.Metrics;
using Gateway.Host.Configuration;
using Gateway.Host.Tun;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Networking;

/// <summary>Creates the virtual network (TUN side) for a configuration.</summary>
internal static class VirtualNetworkFactory
{
    /// <summary>The TUN dispatcher when <c>host.tun.enabled</c>, otherwise <see cref="DisabledVirtualNetwork"/>.</summary>
    public static IVirtualNetwork Create(TunOptions options, ILoggerFactory loggerFactory, Meter hostMeter) =>
        options.Enabled
            ? new TunVirtualNetwork(options, loggerFactory, hostMeter)
            : new DisabledVirtualNetwork(loggerFactory.CreateLogger("Gateway.Host.Networking"));
}
