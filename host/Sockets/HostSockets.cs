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

    public HostSockets(ILoggerFactory loggerFactory, Meter hostMeter)
    {
        _logger = loggerFactory.CreateLogger("Gateway.Host.Sockets");
        _datagrams = hostMeter.CreateCounter<long>("gateway.host.udp.datagrams", description: "Datagrams received on host UDP sockets");
        _sendFailures = hostMeter.CreateCounter<long>("gateway.host.udp.send_failures", description: "Batched UDP replies the kernel refused (sendmmsg)");
        _rejected = hostMeter.CreateCounter<long>("gateway.host.tcp.rejected", description: "TCP connections closed because the listener's maxConnections was reached");
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
