using Gateway.Plugins.WireGuard.Device;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;

namespace Gateway.Plugins.WireGuard.Routing;

/// <summary>
/// Keeps the host's prefix routes (<see cref="IPluginContext.AddRoute"/>) equal to the device's AllowedIPs, so
/// prefixes added or removed at run time through `wg set` are routed into the tunnel or stop being routed.
/// </summary>
internal sealed class RouteRegistrations : IDisposable
{
    private readonly IPluginContext _context;
    private readonly WireGuardDevice _device;
    private readonly Dictionary<IpPrefix, IDisposable> _routes = new();
    private readonly Lock _lock = new();

    /// <summary>Creates the registrations and applies the current AllowedIPs.</summary>
    public RouteRegistrations(IPluginContext context, WireGuardDevice device)
    {
        _context = context;
        _device = device;
        device.RoutesChanged += Sync;
        Sync();
    }

    /// <summary>Adds routes for new prefixes and removes routes of prefixes no peer has any more.</summary>
    public void Sync()
    {
        lock (_lock)
        {
            var wanted = new HashSet<IpPrefix>(_device.AllowedIps.AllPrefixes());
            List<IpPrefix> stale = new();
            foreach (IpPrefix prefix in _routes.Keys)
            {
                if (!wanted.Contains(prefix))
                {
                    stale.Add(prefix);
                }
            }

            foreach (IpPrefix prefix in stale)
            {
                _routes[prefix].Dispose();
                _routes.Remove(prefix);
            }

            foreach (IpPrefix prefix in wanted)
            {
                if (!_routes.ContainsKey(prefix))
                {
                    _routes[prefix] = _context.AddRoute(prefix, _device);
                }
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _device.RoutesChanged -= Sync;
        lock (_lock)
        {
            foreach (IDisposable route in _routes.Values)
            {
                route.Dispose();
            }

            _routes.Clear();
        }
    }
}
