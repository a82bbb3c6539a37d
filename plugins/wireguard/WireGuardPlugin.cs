using System.Net.Sockets;
using Gateway.Plugins.WireGuard.Api;
using Gateway.Plugins.WireGuard.Configuration;
using Gateway.Plugins.WireGuard.Conn;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Plugins.WireGuard.Metrics;
using Gateway.Plugins.WireGuard.Routing;
using Gateway.Plugins.WireGuard.UAPI;
using Gateway.Sdk.Plugins;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Gateway.Plugins.WireGuard;

/// <summary>
/// The wireguard plugin (DESIGN §8): a WireGuard interface on the gateway's TUN. Packets from the TUN whose
/// destination is in a peer's AllowedIPs are encrypted to that peer; packets from peers are decrypted, checked
/// against the peer's AllowedIPs and delivered to the dispatcher. `wg` talks to it over the UAPI socket; a changed
/// <c>wireguard:</c> section is applied live like `wg syncconf` (<see cref="SyncConf"/>).
/// </summary>
public sealed class WireGuardPlugin : IGatewayPlugin
{
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private readonly Lock _transportLock = new();
    private WireGuardDevice? _device;
    private UdpTransport? _transport;
    private RouteRegistrations? _routes;
    private UapiServer? _uapi;
    private SyncConf? _syncConf;
    private WireGuardOptions? _applied;
    private IPluginContext? _context;
    private ILogger? _logger;
    private IDisposable? _reloadRegistration;
    private IDisposable? _peersRoute;
    private Task _lastReload = Task.CompletedTask;
    private bool _released;

    /// <inheritdoc/>
    public string Id => "wireguard";

    /// <summary>The running device, or null while WireGuard is off (for tests).</summary>
    internal WireGuardDevice? Device => _device;

    /// <summary>The reload started by the last change of the section (tests wait on it).</summary>
    internal Task LastReload => Volatile.Read(ref _lastReload);

    /// <inheritdoc/>
    public void Validate(PluginValidationContext context) =>
        WireGuardConfigReader.Read(context.Configuration, context.ConfigDirectory, context.Error);

    /// <inheritdoc/>
    public async Task StartAsync(IPluginContext context, CancellationToken cancellationToken)
    {
        _context = context;
        ILogger logger = _logger = context.LoggerFactory.CreateLogger("wireguard");
        (string Path, string Message)? firstError = null;
        WireGuardOptions options = WireGuardConfigReader.Read(context.Configuration, context.ConfigDirectory, (path, message) => firstError ??= (path, message));
        if (firstError is { } error)
        {
            throw new PluginConfigException(error.Path, error.Message);
        }

        _syncConf = new SyncConf(logger);
        _ = new WireGuardMetrics(context.Meter, () => _device);
        _peersRoute = context.MapApi("GET", "peers", (_, _) => ValueTask.FromResult(PeersApi.Answer(_device, DateTimeOffset.UtcNow)));
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Activate(options);
        }
        finally
        {
            _lifecycle.Release();
        }

        _reloadRegistration = ChangeToken.OnChange(context.Configuration.GetReloadToken, OnReloadToken);
        if (context.IsReplacement && _device is { } device)
        {
            // Peers still send with the sessions they had with the old version, which this one cannot decrypt; left
            // alone they handshake again only after ~15 s without an answer. Peers with an endpoint get one now.
            Peer[] reachable = device.Peers.Where(p => p.Endpoint is not null).ToArray();
            WireGuardLog.TakingOver(logger, reachable.Length);
            foreach (Peer peer in reachable)
            {
                peer.SendKeepalive();
            }

            device.Flush();
        }
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _reloadRegistration?.Dispose();
        _reloadRegistration = null;
        _peersRoute?.Dispose();
        _peersRoute = null;
        await _lifecycle.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await DeactivateAsync().ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// A plugin swap: the UDP port and the UAPI socket can be owned by one version only, so this one closes them (and
    /// withdraws its routes) before the new version starts; the device with its peers and sessions stays for
    /// <see cref="ReclaimExclusiveResourcesAsync"/>.
    /// </summary>
    public async Task ReleaseExclusiveResourcesAsync(CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_device is not { } device || _released)
            {
                return;
            }

            _released = true;
            if (_uapi is not null)
            {
                await _uapi.DisposeAsync().ConfigureAwait(false);
                _uapi = null;
            }

            _routes?.Dispose();
            _routes = null;
            device.Detach();
            lock (_transportLock)
            {
                _transport?.Dispose();
                _transport = null;
            }

            WireGuardLog.Released(_logger!, device.ListenPort);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>The new version did not start: the same UDP port, routes and UAPI socket again; the sessions were kept.</summary>
    public async Task ReclaimExclusiveResourcesAsync(CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_device is not { } device || !_released)
            {
                return;
            }

            UdpTransport transport = OpenTransport(device, device.ListenPort);
            _released = false;
            lock (_transportLock)
            {
                _transport = transport;
            }

            device.Start(transport, runTimers: false);
            transport.Start();
            _routes = new RouteRegistrations(_context!, device);
            StartUapi(device);
            WireGuardLog.Reclaimed(_logger!, device.ListenPort);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>Applies the current section now (the reload token's callback runs this off the host's thread).</summary>
    internal async Task ReloadAsync()
    {
        await _lifecycle.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            IPluginContext? context = _context;
            if (context is null || _logger is null || _syncConf is null)
            {
                return;
            }

            // The host validated the section before it got here; the key file is read again and may have changed.
            (string Path, string Message)? firstError = null;
            WireGuardOptions next = WireGuardConfigReader.Read(context.Configuration, context.ConfigDirectory, (path, message) => firstError ??= (path, message));
            if (firstError is { } error)
            {
                WireGuardLog.ReloadRefused(_logger, "wireguard." + error.Path.Replace(':', '.'), error.Message);
                return;
            }

            WireGuardDevice? device = _device;
            WireGuardOptions? previous = _applied;
            if (device is null || previous is null)
            {
                Activate(next);
                return;
            }

            if (next.PrivateKey is null)
            {
                await DeactivateAsync().ConfigureAwait(false);
                WireGuardLog.ReloadStopped(_logger);
                return;
            }

            SyncResult result;
            lock (_uapi?.SetLock ?? _transportLock)
            {
                result = _syncConf.Apply(device, previous, next, Rebind);
            }

            _applied = next;
            WireGuardLog.Reloaded(_logger, result.Added.Count, result.Updated.Count, result.Removed.Count, result.Rekeyed ? "; private key changed, every session re-keys" : "");
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    private void OnReloadToken() => Volatile.Write(ref _lastReload, Task.Run(ReloadAsync));

    /// <summary>Builds the device, sockets, routes and UAPI socket for <paramref name="options"/> (nothing when there is no key or TUN).</summary>
    private void Activate(WireGuardOptions options)
    {
        IPluginContext context = _context!;
        ILogger logger = _logger!;
        if (options.PrivateKey is null)
        {
            WireGuardLog.NotConfigured(logger);
            return;
        }

        ITunInfo? tun = context.Tun;
        if (tun is null)
        {
            WireGuardLog.NeedsTun(logger);
            return;
        }

        var device = new WireGuardDevice(options.PrivateKey, context.Inbound, logger, mtu: tun.Mtu);
        foreach (WireGuardPeerOptions peerOptions in options.Peers)
        {
            Peer peer = device.AddPeer(peerOptions.PublicKey);
            peer.SetPresharedKey(peerOptions.PresharedKey);
            SyncConf.SetEndpoint(device, peer, peerOptions);
            peer.SetPersistentKeepalive(peerOptions.PersistentKeepalive);
            device.AllowedIps.ReplacePeer(peer, peerOptions.AllowedIps);
        }

        UdpTransport transport = OpenTransport(device, options.ListenPort);
        device.ListenPort = transport.Port;
        device.BatchSends = true;
        _transport = transport;
        _device = device;
        device.Start(transport);
        transport.Start();
        _routes = new RouteRegistrations(context, device);
        StartUapi(device);
        _applied = options;
        WireGuardLog.Started(logger, tun.Name, Convert.ToBase64String(device.Identity.PublicKey), device.ListenPort, device.Peers.Count);
    }

    private void StartUapi(WireGuardDevice device)
    {
        var uapi = new UapiServer(device, _context!.Tun!.Name, _logger!, Rebind);
        uapi.RuntimeSet += _syncConf!.NoteRuntimeSet;
        uapi.Start();
        _uapi = uapi;
    }

    private async Task DeactivateAsync()
    {
        _released = false;
        if (_uapi is not null)
        {
            await _uapi.DisposeAsync().ConfigureAwait(false);
            _uapi = null;
        }

        _routes?.Dispose();
        _routes = null;
        _device?.Dispose();
        lock (_transportLock)
        {
            _transport?.Dispose();
            _transport = null;
        }

        _device = null;
        _applied = null;
    }

    private UdpTransport OpenTransport(WireGuardDevice device, int port)
    {
        Socket v4 = UdpTransport.CreateSocket(AddressFamily.InterNetwork);
        try
        {
            _context!.ProtectSocket(v4);
            UdpTransport.Bind(v4, port);
        }
        catch
        {
            v4.Dispose();
            throw;
        }

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

    /// <summary>Moves the UDP sockets to <paramref name="port"/> (UAPI listen_port, or a reload): the new ones serve before the old close.</summary>
    private bool Rebind(int port)
    {
        WireGuardDevice? device = _device;
        if (device is null)
        {
            return false;
        }

        lock (_transportLock)
        {
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
}
