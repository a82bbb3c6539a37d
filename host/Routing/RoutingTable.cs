using System.Net.Sockets;
using Gateway.Host.Networking;
using Gateway.Sdk.Networking;

namespace Gateway.Host.Routing;

/// <summary>
/// The mutable registry behind <see cref="RoutingSnapshot"/>: registrations and removals take a lock,
/// rebuild the snapshot and publish it with one volatile write (YARP-style config swap). The packet path
/// only ever reads <see cref="Current"/>.
/// </summary>
internal sealed class RoutingTable
{
    private readonly object _lock = new();
    private readonly List<DatagramBinding> _datagrams = new();
    private readonly List<StreamBinding> _streams = new();
    private readonly List<PrefixRoute> _routes = new();
    private readonly List<HookBinding> _hooks = new();

    // Bindings of a draining plugin version shadowed by its replacement: restored if the replacement goes away first
    // (a replacement that fails to start leaves the old version serving).
    private readonly List<DatagramBinding> _shadowedDatagrams = new();
    private readonly List<StreamBinding> _shadowedStreams = new();
    private RoutingSnapshot _current = RoutingSnapshot.Empty;

    /// <summary>Raised (under no lock) after a snapshot was published; the TUN side installs host routes from it.</summary>
    public event Action<RoutingSnapshot>? Changed;

    /// <summary>The current snapshot.</summary>
    public RoutingSnapshot Current => Volatile.Read(ref _current);

    /// <summary>Adds a UDP virtual endpoint.</summary>
    /// <exception cref="SocketException">The endpoint is already bound (AddressAlreadyInUse), as for a host socket.</exception>
    public void Add(DatagramBinding binding) => Mutate(() =>
    {
        foreach (DatagramBinding existing in _datagrams)
        {
            if (existing.Endpoint == binding.Endpoint)
            {
                if (!IsHandOver(existing.Guard, binding.Guard))
                {
                    throw new SocketException((int)SocketError.AddressAlreadyInUse);
                }

                _datagrams.Remove(existing);
                _shadowedDatagrams.Add(existing);
                break;
            }
        }

        _datagrams.Add(binding);
    });

    /// <summary>Adds a TCP virtual endpoint.</summary>
    /// <exception cref="SocketException">The endpoint is already bound (AddressAlreadyInUse).</exception>
    public void Add(StreamBinding binding) => Mutate(() =>
    {
        foreach (StreamBinding existing in _streams)
        {
            if (existing.Endpoint == binding.Endpoint)
            {
                if (!IsHandOver(existing.Guard, binding.Guard))
                {
                    throw new SocketException((int)SocketError.AddressAlreadyInUse);
                }

                _streams.Remove(existing);
                _shadowedStreams.Add(existing);
                break;
            }
        }

        _streams.Add(binding);
    });

    /// <summary>Adds a prefix route.</summary>
    public void Add(PrefixRoute route) => Mutate(() => _routes.Add(route));

    /// <summary>Adds a packet hook.</summary>
    public void Add(HookBinding hook) => Mutate(() => _hooks.Add(hook));

    /// <summary>Removes a UDP virtual endpoint.</summary>
    public void Remove(DatagramBinding binding) => Mutate(() =>
    {
        _shadowedDatagrams.Remove(binding);
        if (_datagrams.Remove(binding) && _shadowedDatagrams.FindLastIndex(b => b.Endpoint == binding.Endpoint) is int at and >= 0)
        {
            _datagrams.Add(_shadowedDatagrams[at]);
            _shadowedDatagrams.RemoveAt(at);
        }
    });

    /// <summary>Removes a TCP virtual endpoint.</summary>
    public void Remove(StreamBinding binding) => Mutate(() =>
    {
        _shadowedStreams.Remove(binding);
        if (_streams.Remove(binding) && _shadowedStreams.FindLastIndex(b => b.Endpoint == binding.Endpoint) is int at and >= 0)
        {
            _streams.Add(_shadowedStreams[at]);
            _shadowedStreams.RemoveAt(at);
        }
    });

    /// <summary>Removes a prefix route.</summary>
    public void Remove(PrefixRoute route) => Mutate(() => _routes.Remove(route));

    /// <summary>Removes a packet hook.</summary>
    public void Remove(HookBinding hook) => Mutate(() => _hooks.Remove(hook));

    /// <summary>True when some virtual endpoint uses <paramref name="address"/>.</summary>
    public bool IsVirtual(NetAddress address) => Current.IsVirtual(address);

    /// <summary>A new version of a plugin takes over the endpoint of its draining old version (DESIGN §4 drain).</summary>
    private static bool IsHandOver(PluginHandlerGuard existing, PluginHandlerGuard incoming) =>
        existing.Draining && !incoming.Draining && string.Equals(existing.PluginId, incoming.PluginId, StringComparison.Ordinal);

    private void Mutate(Action change)
    {
        RoutingSnapshot snapshot;
        lock (_lock)
        {
            change();
            snapshot = new RoutingSnapshot(_datagrams, _streams, _routes, _hooks);
            Volatile.Write(ref _current, snapshot);
        }

        Changed?.Invoke(snapshot);
    }
}
