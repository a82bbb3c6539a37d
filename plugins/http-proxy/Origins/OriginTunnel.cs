using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Io.Epoll;
using Gateway.Plugins.HttpProxy.Parents;

namespace Gateway.Plugins.HttpProxy.Origins;

/// <summary>
/// A connection opened for a tunnel (CONNECT, SOCKS CONNECT): straight to the origin, or through a parent proxy that
/// has accepted the tunnel. <see cref="Reader"/> may already hold the origin's first bytes (sent right after the
/// parent's answer); the relay sends them first. Never pooled.
/// </summary>
internal sealed class OriginTunnel : IDisposable
{
    private readonly IPEndPoint? _remote;
    private readonly CancellationTokenRegistration _abort;

    public OriginTunnel(Socket socket, SocketReader reader, ParentProxy? parent)
    {
        Socket = socket;
        Reader = reader;
        Parent = parent;
    }

    /// <summary>A direct tunnel served by an epoll loop (<see cref="OriginConnector.ConnectOnLoopAsync"/>).</summary>
    /// <param name="abort">The registration that aborts <see cref="SocketReader.Loop"/> when the session's deadline fires; disposed here.</param>
    public OriginTunnel(Socket socket, SocketReader reader, IPEndPoint remote, CancellationTokenRegistration abort)
    {
        Socket = socket;
        Reader = reader;
        _remote = remote;
        _abort = abort;
    }

    public Socket Socket { get; }

    public SocketReader Reader { get; }

    /// <summary>The parent the tunnel goes through, or null when it is direct.</summary>
    public ParentProxy? Parent { get; }

    /// <summary>The address connected to (a socket connected on a loop is unknown to System.Net.Sockets).</summary>
    public EndPoint? RemoteEndPoint => _remote ?? Socket.RemoteEndPoint;

    /// <summary>This side's address: a SOCKS reply's BND.ADDR and BND.PORT.</summary>
    public IPEndPoint LocalEndPoint() => Reader.Loop is { } loop ? loop.LocalEndPoint(Socket.AddressFamily) : (IPEndPoint)Socket.LocalEndPoint!;

    public void Dispose()
    {
        _abort.Dispose();
        Reader.Loop?.Dispose();
        Socket.Dispose();
        Reader.Dispose();
    }
}
