using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Sockets;
using Gateway.Host.Configuration;
using Gateway.Host.Dispatch;
using Gateway.Host.Nat;
using Gateway.Host.Networking;
using Gateway.Host.Routing;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Tun;

/// <summary>
/// The TUN side of the gateway (DESIGN §2, §9): creates and configures the device (addresses, MTU, up,
/// routes, the fwmark policy rule) through rtnetlink, runs the dispatcher on its read loop, serves virtual
/// endpoints (UDP via the plugin's handler, TCP via the kernel-NAT listener) and removes what it configured
/// on dispose.
/// </summary>
/// <remarks>
/// Routes for virtual IPs and plugin prefixes go into table <see cref="RouteTable"/>, consulted by the rule
/// "not fwmark <see cref="FirewallMark"/> lookup <see cref="RouteTable"/>" (wg-quick's scheme): sockets marked
/// by <see cref="ProtectSocket"/> skip the gateway's routes and never loop into the TUN.
/// </remarks>
internal sealed class TunVirtualNetwork : IVirtualNetwork
{
    /// <summary>The fwmark of protected sockets ("GW").</summary>
    public const uint FirewallMark = 0x4757;

    /// <summary>The routing table holding the gateway's routes.</summary>
    public const uint RouteTable = 0x4757;

    /// <summary>The priority of the policy rule (before main at 32766).</summary>
    public const uint RulePriority = 0x4757;

    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(5);

    private readonly TunOptions _options;
    private readonly TimeSpan _idleTimeout;
    private readonly ILogger _logger;
    private readonly Meter _meter;
    private readonly TunOffloads _offloads;
    private readonly RoutingTable _table = new();
    private readonly List<(NetAddress Address, int Length)> _addresses = new();
    private readonly object _routesLock = new();
    private readonly HashSet<IpPrefix> _installedRoutes = new();
    private readonly List<StreamAcceptor> _acceptors = new();
    private ITunDevice? _device;
    private RtNetlink? _netlink;
    private int _index;
    private bool _rulesV4;
    private bool _rulesV6;
    private bool _v6Disabled;
    private Timer? _sweeper;

    /// <summary>The device while started (null before and after); for tests.</summary>
    internal ITunDevice? Device => _device;

    /// <param name="options">host.tun.</param>
    /// <param name="loggerFactory">For the TUN and dispatcher logs.</param>
    /// <param name="hostMeter">The host's meter (drop counters, NAT sessions).</param>
    /// <param name="limits">host.limits: the idle timeout of virtual TCP connections, as for host sockets; default: the defaults.</param>
    /// <param name="offloads">What the Linux TUN asks for (anything but <see cref="TunOffloads.Full"/>: a fallback path, for tests).</param>
    public TunVirtualNetwork(TunOptions options, ILoggerFactory loggerFactory, Meter hostMeter, LimitsOptions? limits = null, TunOffloads offloads = TunOffloads.Full)
    {
        _offloads = offloads;
        _options = options;
        _idleTimeout = (limits ?? new LimitsOptions()).IdleTimeout;
        _logger = loggerFactory.CreateLogger("Gateway.Host.Tun");
        _meter = hostMeter;
        var prefixes = new List<IpPrefix>();
        foreach (string text in options.Addresses)
        {
            (NetAddress address, int length) = ParseInterfaceAddress(text);
            _addresses.Add((address, length));
            prefixes.Add(new IpPrefix(address, length));
        }

        Tun = new TunInfo(options.Name, prefixes, options.Mtu);
    }

    /// <inheritdoc/>
    public ITunInfo? Tun { get; }

    /// <inheritdoc/>
    public IPacketInjector Inbound => Dispatcher;

    /// <summary>The dispatcher (after <see cref="StartAsync"/>), for metrics and tests.</summary>
    public Dispatcher Dispatcher { get; private set; } = null!;

    /// <summary>
    /// Creates and configures the device and starts the packet loop. Everything that binds to the network
    /// namespace (device, netlink socket, listeners) is created synchronously on the calling thread.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsLinux())
        {
            _device = WintunDevice.Create(_options.Name, _options.Mtu, _logger);
        }
        else
        {
            LinuxTunDevice linux = LinuxTunDevice.Create(_options.Name, _options.Mtu, _logger, _offloads);
            _device = linux;
            _meter.CreateObservableCounter(
                "gateway.tun.malformed_frames",
                () => linux.MalformedFrames,
                unit: "{frame}",
                description: "Frames read from the TUN with an invalid virtio-net header or offload layout, dropped before dispatch");
            _meter.CreateObservableCounter(
                "gateway.tun.loop_failures",
                () => linux.LoopFailures,
                unit: "{batch}",
                description: "Batches lost because the TUN read loop or the dispatcher threw; the loop kept reading");
            _meter.CreateObservableCounter(
                "gateway.tun.coalesced_segments",
                () => linux.CoalescedSegments,
                unit: "{packet}",
                description: "TCP segments and UDP datagrams merged into GSO super-packets on TUN writes");
            _index = linux.Index;
            try
            {
                _netlink = new RtNetlink();
                _netlink.SetLinkUp(_index, _options.Mtu);
                AddAddresses(_netlink);
                _rulesV4 = true;
                _netlink.AddRule(v6: false, FirewallMark, RouteTable, RulePriority);
                if (_addresses.Exists(a => a.Address.IsV6))
                {
                    _rulesV6 = true;
                    _netlink.AddRule(v6: true, FirewallMark, RouteTable, RulePriority);
                }
            }
            catch (IOException ex)
            {
                TunLog.ConfigureFailed(_logger, _options.Name, ex.Message);
                Cleanup();
                throw;
            }
        }

        Dispatcher = new Dispatcher(_device, _table, _meter, _logger, _options.ToNatLimits());
        NetEndpoint? v4 = null, v6 = null;
        foreach ((NetAddress address, _) in _addresses)
        {
            if ((address.IsV6 ? v6 : v4) is not null || !OperatingSystem.IsLinux())
            {
                continue;
            }

            var acceptor = new StreamAcceptor(StreamAcceptor.Listen(address), Dispatcher.Nat, _logger, _idleTimeout);
            _acceptors.Add(acceptor);
            acceptor.Start();
            if (address.IsV6)
            {
                v6 = acceptor.Endpoint;
            }
            else
            {
                v4 = acceptor.Endpoint;
            }
        }

        Dispatcher.SetListeners(v4, v6);
        _table.Changed += OnRoutingChanged;
        _device.Start(Dispatcher);
        _sweeper = new Timer(static state => ((Dispatcher)state!).SweepNat(), Dispatcher, SweepInterval, SweepInterval);
        TunLog.Started(_logger, _options.Name, string.Join(", ", _addresses.ConvertAll(a => a.Address + "/" + a.Length.ToString(CultureInfo.InvariantCulture))), _options.Mtu);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public IDisposable BindDatagram(PluginHandlerGuard guard, NetEndpoint endpoint, IDatagramHandler handler)
    {
        var binding = new DatagramBinding(endpoint, handler, guard);
        _table.Add(binding);
        return new EndpointRegistration(() => _table.Remove(binding), () => _table.Remove(binding));
    }

    /// <inheritdoc/>
    public IDisposable BindStream(PluginHandlerGuard guard, NetEndpoint endpoint, IStreamHandler handler)
    {
        var binding = new StreamBinding(endpoint, handler, guard);
        _table.Add(binding);

        // Stop accepting: new SYNs for the endpoint no longer reach this version (they go to a newer one, or are
        // refused); connections it already has keep running on their NAT sessions until the binding is disposed.
        return new EndpointRegistration(() => _table.Remove(binding), () =>
        {
            _table.Remove(binding);
            binding.Stop();
        });
    }

    /// <inheritdoc/>
    public IDisposable AddRoute(PluginHandlerGuard guard, IpPrefix prefix, IPacketRoute route)
    {
        var entry = new PrefixRoute(prefix, route, guard);
        _table.Add(entry);
        return new Registration(() => _table.Remove(entry));
    }

    /// <inheritdoc/>
    public IDisposable AddPacketHook(PluginHandlerGuard guard, IPacketHook hook)
    {
        var entry = new HookBinding(hook, guard);
        _table.Add(entry);
        return new Registration(() => _table.Remove(entry));
    }

    /// <summary>Sets SO_MARK <see cref="FirewallMark"/> so the socket's traffic skips the gateway's routes (needs CAP_NET_ADMIN).</summary>
    public void ProtectSocket(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        // SOL_SOCKET = 1, SO_MARK = 36 (socket(7)).
        socket.SetRawSocketOption(1, 36, BitConverter.GetBytes(FirewallMark));
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        _table.Changed -= OnRoutingChanged;
        _sweeper?.Dispose();
        foreach (StreamAcceptor acceptor in _acceptors)
        {
            acceptor.Dispose();
        }

        _acceptors.Clear();
        Cleanup();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Adds the interface addresses (after the link is up, so the kernel has set up IPv6 on it). An IPv6 address
    /// the kernel refuses (IPv6 disabled host-wide or on the device, or an MTU below 1280) is skipped with a warning:
    /// the TUN still serves IPv4. IPv4 failures stop the start.
    /// </summary>
    private void AddAddresses(RtNetlink netlink)
    {
        for (int i = 0; i < _addresses.Count; i++)
        {
            (NetAddress address, int length) = _addresses[i];
            try
            {
                netlink.AddAddress(_index, address, length);
            }
            catch (IOException ex) when (address.IsV6)
            {
                TunLog.V6Unavailable(_logger, _options.Name, address + "/" + length.ToString(CultureInfo.InvariantCulture), ex.Message);
                _addresses.RemoveAt(i--);
                _v6Disabled = true;
            }
        }
    }

    private void Cleanup()
    {
        if (_netlink is not null)
        {
            lock (_routesLock)
            {
                foreach (IpPrefix prefix in _installedRoutes)
                {
                    TryNetlink(() => _netlink.DeleteRoute(_index, prefix, RouteTable));
                }

                _installedRoutes.Clear();
            }

            if (_rulesV4)
            {
                TryNetlink(() => _netlink.DeleteRule(v6: false, FirewallMark, RouteTable, RulePriority));
            }

            if (_rulesV6)
            {
                TryNetlink(() => _netlink.DeleteRule(v6: true, FirewallMark, RouteTable, RulePriority));
            }

            foreach ((NetAddress address, int length) in _addresses)
            {
                TryNetlink(() => _netlink.DeleteAddress(_index, address, length));
            }

            _netlink.Dispose();
            _netlink = null;
        }

        // Closing the fd removes the (non-persistent) interface and whatever the kernel still had on it.
        _device?.Dispose();
        _device = null;
    }

    private void OnRoutingChanged(RoutingSnapshot snapshot)
    {
        if (_netlink is null)
        {
            return;
        }

        // Reconcile against the latest snapshot: host routes for virtual IPs, and plugin prefixes.
        lock (_routesLock)
        {
            RoutingSnapshot current = _table.Current;
            var wanted = new HashSet<IpPrefix>();
            foreach (NetAddress address in current.VirtualAddresses)
            {
                if (!(address.IsV6 && _v6Disabled))
                {
                    wanted.Add(new IpPrefix(address, address.BitLength));
                }
            }

            foreach (PrefixRoute route in current.Routes)
            {
                if (!(route.Prefix.Network.IsV6 && _v6Disabled))
                {
                    wanted.Add(route.Prefix);
                }
            }

            foreach (IpPrefix prefix in wanted)
            {
                if (!_installedRoutes.Contains(prefix) && TryNetlink(() => _netlink.AddRoute(_index, prefix, RouteTable)))
                {
                    _installedRoutes.Add(prefix);
                }
            }

            _installedRoutes.RemoveWhere(prefix =>
            {
                if (wanted.Contains(prefix))
                {
                    return false;
                }

                TryNetlink(() => _netlink.DeleteRoute(_index, prefix, RouteTable));
                return true;
            });
        }
    }

    private bool TryNetlink(Action action)
    {
        try
        {
            action();
            return true;
        }
        catch (IOException ex)
        {
            TunLog.NetlinkFailed(_logger, _options.Name, ex.Message);
            return false;
        }
    }

    private static (NetAddress Address, int Length) ParseInterfaceAddress(string text)
    {
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string addressText = slash < 0 ? text : text[..slash];
        if (!NetAddress.TryParse(addressText, out NetAddress address))
        {
            throw new FormatException($"host.tun.addresses: '{text}' is not an address in CIDR form such as 10.30.30.1/24");
        }

        int length = address.BitLength;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > address.BitLength))
        {
            throw new FormatException($"host.tun.addresses: '{text}' has a bad prefix length");
        }

        return (address, length);
    }

    /// <summary>Undoes one registration, once.</summary>
    private sealed class EndpointRegistration(Action stopAccepting, Action undo) : IAcceptingRegistration
    {
        private Action? _undo = undo;

        public void StopAccepting() => stopAccepting();

        public void Dispose() => Interlocked.Exchange(ref _undo, null)?.Invoke();
    }

    private sealed class Registration(Action undo) : IDisposable
    {
        private Action? _undo = undo;

        public void Dispose() => Interlocked.Exchange(ref _undo, null)?.Invoke();
    }
}
