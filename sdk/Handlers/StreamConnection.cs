using System.Net.Sockets;
using Gateway.Sdk.Networking;

namespace Gateway.Sdk.Handlers;

/// <summary>
/// An accepted stream connection. For virtual endpoints the kernel's own TCP stack terminated the
/// connection, so this is an ordinary connected <see cref="System.Net.Sockets.Socket"/>; <see cref="Client"/>
/// and <see cref="Local"/> are the ORIGINAL client and the virtual endpoint, not the NAT-rewritten addresses.
/// </summary>
public sealed class StreamConnection : IAsyncDisposable
{
    private Stream? _stream;

    /// <summary>Created by the host (or by tests) for each accepted connection.</summary>
    public StreamConnection(Socket socket, NetEndpoint client, NetEndpoint local, PacketOrigin origin, TimeSpan idleTimeout)
    {
        Socket = socket ?? throw new ArgumentNullException(nameof(socket));
        Client = client;
        Local = local;
        Origin = origin;
        IdleTimeout = idleTimeout;
    }

    /// <summary>The connected socket. Use it directly for zero-copy relaying, or use <see cref="Stream"/>.</summary>
    public Socket Socket { get; }

    /// <summary>The original client.</summary>
    public NetEndpoint Client { get; }

    /// <summary>The endpoint the client connected to (a virtual endpoint or a host socket's address).</summary>
    public NetEndpoint Local { get; }

    /// <summary>How the connection entered the gateway.</summary>
    public PacketOrigin Origin { get; }

    /// <summary>
    /// The idle timeout configured for this endpoint (<see cref="Timeout.InfiniteTimeSpan"/> for none).
    /// Reads through <see cref="Stream"/> that see no data for this long fail with a <see cref="TimeoutException"/>.
    /// </summary>
    public TimeSpan IdleTimeout { get; }

    /// <summary>A stream over <see cref="Socket"/> that enforces <see cref="IdleTimeout"/> on reads. Created on first use.</summary>
    public Stream Stream => _stream ??= new IdleTimeoutStream(new NetworkStream(Socket, ownsSocket: false), IdleTimeout);

    /// <summary>Closes the stream and the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stream is not null)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }

        Socket.Dispose();
    }
}
