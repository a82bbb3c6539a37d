using System.Diagnostics.Metrics;
using Gateway.Host.Configuration;
using Gateway.Host.Networking;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Sockets;

/// <summary>Binds plugin handlers to ordinary sockets for <c>listen:</c> endpoints (DESIGN §2, "host sockets").</summary>
internal sealed class HostSockets
{
    private readonly ILogger _logger;
    private readonly Counter<long> _datagrams;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _sendFailures;
    private readonly Dictionary<(NetEndpoint Endpoint, bool Tcp), IHostListener> _bound = [];

    public HostSockets(ILoggerFactory loggerFactory, Meter hostMeter)
    {
        _logger = loggerFactory.CreateLogger("Gateway.Host.Sockets");
        _datagrams = hostMeter.CreateCounter<long>("gateway.host.udp.datagrams", description: "Datagrams received on host UDP sockets");
        _sendFailures = hostMeter.CreateCounter<long>("gateway.host.udp.send_failures", description: "Batched UDP replies the kernel refused (sendmmsg)");
        _rejected = hostMeter.CreateCounter<long>("gateway.host.tcp.rejected", description: "TCP connections closed because the listener's maxConnections was reached");
    }

    /// <summary>
    /// A plugin's UDP binding: a new socket, or — when a draining version of the same plugin holds that endpoint — the
    /// same socket handed over, so the new version serves at once while the old one's pending replies still leave.
    /// </summary>
    public HostSocketLease LeaseDatagram(PluginHandlerGuard guard, NetEndpoint endpoint, IDatagramHandler handler)
    {
        lock (_bound)
        {
            if (HandOver(guard, endpoint, tcp: false) is { } shared)
            {
                var owner = new ListenerOwner(guard, handler);
                shared.Add(owner);
                return new HostSocketLease(shared, owner);
            }

            UdpHostListener listener = BindDatagram(guard, endpoint, handler);
            Remember(endpoint, tcp: false, listener);
            return new HostSocketLease(listener, listener.First!);
        }
    }

    /// <summary>A plugin's TCP binding; handed over from a draining version of the same plugin like <see cref="LeaseDatagram"/>.</summary>
    public HostSocketLease LeaseStream(PluginHandlerGuard guard, NetEndpoint endpoint, IStreamHandler handler, LimitsOptions limits)
    {
        lock (_bound)
        {
            if (HandOver(guard, endpoint, tcp: true) is { } shared)
            {
                var owner = new ListenerOwner(guard, handler, limits);
                shared.Add(owner);
                return new HostSocketLease(shared, owner);
            }

            TcpHostListener listener = BindStream(guard, endpoint, handler, limits);
            Remember(endpoint, tcp: true, listener);
            return new HostSocketLease(listener, listener.First!);
        }
    }

    /// <summary>The open socket on <paramref name="endpoint"/> that a draining version of the same plugin owns, or null.</summary>
    private IHostListener? HandOver(PluginHandlerGuard guard, NetEndpoint endpoint, bool tcp)
    {
        if (endpoint.Port == 0 || !_bound.TryGetValue((endpoint, tcp), out IHostListener? listener))
        {
            return null;
        }

        if (listener.Closed)
        {
            _bound.Remove((endpoint, tcp));
            return null;
        }

        return listener.OwnedOnlyByDraining(guard.PluginId) ? listener : null;
    }

    private void Remember(NetEndpoint endpoint, bool tcp, IHostListener listener)
    {
        if (endpoint.Port == 0)
        {
            return;
        }

        foreach (KeyValuePair<(NetEndpoint Endpoint, bool Tcp), IHostListener> entry in _bound.ToArray())
        {
            if (entry.Value.Closed)
            {
                _bound.Remove(entry.Key);
            }
        }

        _bound[(endpoint, tcp)] = listener;
    }

    /// <summary>Binds and starts a UDP socket; throws <see cref="System.Net.Sockets.SocketException"/> when it cannot bind.</summary>
    public UdpHostListener BindDatagram(PluginHandlerGuard guard, NetEndpoint endpoint, IDatagramHandler handler)
    {
        var listener = new UdpHostListener(endpoint, guard, handler, _logger, _datagrams, _sendFailures);
        listener.Start();
        return listener;
    }

    /// <summary>Binds and starts a TCP listener; throws <see cref="System.Net.Sockets.SocketException"/> when it cannot bind.</summary>
    public TcpHostListener BindStream(PluginHandlerGuard guard, NetEndpoint endpoint, IStreamHandler handler, LimitsOptions limits)
    {
        var listener = new TcpHostListener(endpoint, guard, handler, limits, _logger, _rejected);
        listener.Start();
        return listener;
    }
}
