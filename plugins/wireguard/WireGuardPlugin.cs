using System.Net.Sockets;
using Gateway.Plugins.WireGuard.Configuration;
using Gateway.Plugins.WireGuard.Conn;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Plugins.WireGuard.Metrics;
using Gateway.Plugins.WireGuard.Routing;
using Gateway.Plugins.WireGuard.UAPI;
using Gateway.Sdk.Plugins;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.WireGuard;

/// <summary>
/// The wireguard plugin (DESIGN §8): a WireGuard interface on the gateway's TUN. Packets from the TUN whose
/// destination is in a peer's AllowedIPs are encrypted to that peer; packets from peers are decrypted, checked
/// against the peer's AllowedIPs and delivered to the dispatcher. `wg` talks to it over the UAPI socket.
/// </summary>
public sealed class WireGuardPlugin : IGatewayPlugin
{
    private WireGuardDevice? _device;
    private UdpTransport? _transport;
    private RouteRegistrations? _routes;
    private UapiServer? _uapi;
    private WireGuardMetrics? _metrics;
    private IPluginContext? _context;
    private ILogger? _logger;

    /// <inheritdoc/>
    public string Id => "wireguard";

    /// <inheritdoc/>
    public void Validate(PluginValidationContext context) =>
        WireGuardConfigReader.Read(context.Configuration, context.Error);

    /// <inheritdoc/>
    public Task StartAsync(IPluginContext context, CancellationToken cancellationToken)
    {
        _context = context;
        ILogger logger = _logger = context.LoggerFactory.CreateLogger("Gateway.Plugins.WireGuard");
        (string Path, string Message)? firstError = null;
        WireGuardOptions options = WireGuardConfigReader.Read(context.Configuration, (path, message) => firstError ??= (path, message));
        if (firstError is { } error)
        {
            throw new PluginConfigException(error.Path, error.Message);
        }

        if (options.PrivateKey is null)
        {
            WireGuardLog.NotConfigured(logger);
            return Task.CompletedTask;
        }

        ITunInfo? tun = context.Tun;
        if (tun is null)
        {
            WireGuardLog.NeedsTun(logger);
            return Task.CompletedTask;
        }

        var device = new WireGuardDevice(options.PrivateKey, context.Inbound, logger, mtu: tun.Mtu);
        foreach (WireGuardPeerOptions peerOptions in options.Peers)
        {
            Peer peer = device.AddPeer(peerOptions.PublicKey);
            peer.SetPresharedKey(peerOptions.PresharedKey);
            if (peerOptions.Endpoint is { } endpoint)
            {
                peer.SetEndpoint(endpoint);
            }
            else if (peerOptions.EndpointHost is { } host)
            {
                if (EndpointResolver.TryResolve(host, out Sdk.Networking.NetEndpoint resolved, out string why))
                {
                    peer.SetEndpoint(resolved);
                    WireGuardLog.EndpointResolved(logger, peer.ShortKey, host, resolved.ToString());
                }
                else
                {
                    WireGuardLog.EndpointUnresolved(logger, peer.ShortKey, why);
                }
            }

            peer.SetPersistentKeepalive(peerOptions.PersistentKeepalive);
            foreach (Sdk.Networking.IpPrefix prefix in peerOptions.AllowedIps)
            {
                device.AllowedIps.Insert(prefix, peer);
            }
        }

        _transport = OpenTransport(device, options.ListenPort);
        device.ListenPort = _transport.Port;
        device.BatchSends = true;
        _metrics = new WireGuardMetrics(context.Meter, device);
        _device = device;
        device.Start(_transport);
        _transport.Start();
        _routes = new RouteRegistrations(context, device);
        _uapi = new UapiServer(device, tun.Name, logger, Rebind);
        _uapi.Start();
        WireGuardLog.Started(logger, tun.Name, Convert.ToBase64String(device.Identity.PublicKey), device.ListenPort, device.Peers.Count);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_uapi is not null)
        {
            await _uapi.DisposeAsync().ConfigureAwait(false);
            _uapi = null;
        }

        _routes?.Dispose();
        _routes = null;
        _device?.Dispose();
        _transport?.Dispose();
        _device = null;
        _transport = null;
    }

    private UdpTransport OpenTransport(WireGuardDevice device, int port)
    {
        Socket v4 = UdpTransport.CreateSocket(AddressFamily.InterNetwork);
        _context!.ProtectSocket(v4);
        UdpTransport.Bind(v4, port);
        int bound = ((System.Net.IPEndPoint)v4.LocalEndPoint!).Port;
        Socket? v6 = null;
        if (Socket.OSSupportsIPv6)
        {
            try
            {
                v6 = UdpTransport.CreateSocket(AddressFamily.InterNetworkV6);
                _context.ProtectSocket(v6);
                UdpTransport.Bind(v6, bound);
            }
            catch (SocketException)
            {
                // IPv6 disabled on this host: IPv4 only, as wireguard-go does.
                v6?.Dispose();
                v6 = null;
            }
        }

        var transport = new UdpTransport(device, v4, v6, _logger!);
        WireGuardLog.BatchedIo(_logger!, "IPv4", UdpTransport.BatchSize, transport.UsesGso, transport.UsesGro);
        return transport;
    }

    private bool Rebind(int port)
    {
        WireGuardDevice? device = _device;
        if (device is null)
        {
            return false;
        }

        UdpTransport fresh;
        try
        {
            fresh = OpenTransport(device, port);
        }
        catch (SocketException)
        {
            return false;
        }

        UdpTransport? old = _transport;
        _transport = fresh;
        device.ListenPort = fresh.Port;
        device.Start(fresh, runTimers: false);
        fresh.Start();
        old?.Dispose();
        return true;
    }
}
