using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Parents;

namespace Gateway.Plugins.HttpProxy.Origins;

/// <summary>
/// A connection opened for a tunnel (CONNECT, SOCKS CONNECT): straight to the origin, or through a parent proxy that
/// has accepted the tunnel. <see cref="Reader"/> may already hold the origin's first bytes (sent right after the
/// parent's answer); the relay sends them first. Never pooled.
/// </summary>
internal sealed class OriginTunnel : IDisposable
{
    public OriginTunnel(Socket socket, SocketReader reader, ParentProxy? parent)
    {
        Socket = socket;
        Reader = reader;
        Parent = parent;
    }

    public Socket Socket { get; }

    public SocketReader Reader { get; }

    /// <summary>The parent the tunnel goes through, or null when it is direct.</summary>
    public ParentProxy? Parent { get; }

    public void Dispose()
    {
        Socket.Dispose();
        Reader.Dispose();
    }
}
