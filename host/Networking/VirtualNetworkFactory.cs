using System.Diagnostics.Metrics;
using Gateway.Host.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Networking;

/// <summary>Creates the virtual network (TUN side) for a configuration.</summary>
internal static class VirtualNetworkFactory
{
    /// <summary>The TUN dispatcher when <c>host.tun.enabled</c>, otherwise <see cref="DisabledVirtualNetwork"/>.</summary>
    public static IVirtualNetwork Create(TunOptions options, ILoggerFactory loggerFactory, Meter hostMeter)
    {
        _ = hostMeter;
        ILogger logger = loggerFactory.CreateLogger("Gateway.Host.Networking");
        if (options.Enabled)
        {
            // The TUN dispatcher lands from its own branch; until then virtual endpoints are reported as not served.
            DisabledVirtualNetwork.TunNotBuiltIn(logger);
        }

        return new DisabledVirtualNetwork(logger);
    }
}
