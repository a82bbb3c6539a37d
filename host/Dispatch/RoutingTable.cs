using System.Net.Sockets;
using Gateway.Sdk.Networking;

namespace Gateway.Host.Dispatch;

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
                throw new SocketException((int)SocketError.AddressAlreadyInUse);
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
                throw new SocketException((int)SocketError.AddressAlreadyInUse);
            }
        }

        _streams.Add(binding);
    });

    /// <summary>Adds a prefix route.</summary>
    public void Add(PrefixRoute route) => Mutate(() => _routes.Add(route));

    /// <summary>Adds a packet hook.</summary>
    public void Add(HookBinding hook) => Mutate(() => _hooks.Add(hook));

    /// <summary>Removes a UDP virtual endpoint.</summary>
    public void Remove(DatagramBinding binding) => Mutate(() => _datagrams.Remove(binding));

    /// <summary>Removes a TCP virtual endpoint.</summary>
    public void Remove(StreamBinding binding) => Mutate(() => _streams.Remove(binding));

    /// <summary>Removes a prefix route.</summary>
    public void Remove(PrefixRoute route) => Mutate(() => _routes.Remove(route));

    /// <summary>Removes a packet hook.</summary>
    public void Remove(HookBinding hook) => Mutate(() => _hooks.Remove(hook));

    /// <summary>True when some virtual endpoint uses <paramref name="address"/>.</summary>
    public bool IsVirtual(NetAddress address) => Current.IsVirtual(address);

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
