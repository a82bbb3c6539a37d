using System.Net;
using System.Net.Sockets;
using Gateway.Host.Routing;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Nat;

/// <summary>
/// Accepts the connections the kernel's TCP stack terminated on the NAT listener (DESIGN §2), finds each
/// one's NAT session by its remote port (the NAT port), and runs the plugin's stream handler with the
/// ORIGINAL client and virtual endpoint.
/// </summary>
internal sealed class StreamAcceptor : IDisposable
{
    private readonly Socket _listener;
    private readonly NatTable _nat;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TimeSpan _idleTimeout;

    /// <param name="listener">The bound, listening NAT target socket.</param>
    /// <param name="nat">The NAT table the accepted connections are looked up in.</param>
    /// <param name="logger">Where accept failures are logged.</param>
    /// <param name="idleTimeout">
    /// <see cref="StreamConnection.IdleTimeout"/> of every accepted connection: host.limits.idleTimeoutSeconds, as for
    /// host-socket connections (infinite when 0).
    /// </param>
    public StreamAcceptor(Socket listener, NatTable nat, ILogger logger, TimeSpan idleTimeout)
    {
        _listener = listener;
        _nat = nat;
        _logger = logger;
        _idleTimeout = idleTimeout;
        Endpoint = NetEndpoint.FromIPEndPoint((IPEndPoint)listener.LocalEndPoint!);
    }

    /// <summary>The listener's own address and port (the NAT target).</summary>
    public NetEndpoint Endpoint { get; }

    /// <summary>Binds a listener on <paramref name="address"/> with a kernel-chosen port.</summary>
    public static Socket Listen(NetAddress address)
    {
        var socket = new Socket(address.Family, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address.ToIPAddress(), 0));
            socket.Listen(4096);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Starts the accept loop.</summary>
    public void Start() => _ = AcceptLoopAsync();

    /// <inheritdoc/>
    public void Dispose()
    {
        _stopping.Cancel();
        _listener.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // EMFILE and friends: report and keep accepting after a pause rather than spin.
                NatLog.AcceptFailed(_logger, Endpoint.ToString(), ex.SocketErrorCode);
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }

            var remote = (IPEndPoint)socket.RemoteEndPoint!;
            NatEntry? entry = _nat.FindByKernelPeer(new NetEndpoint(NetAddress.FromIPAddress(remote.Address), (ushort)remote.Port));
            if (entry is null || !_nat.TryAccept(entry) || entry.Binding.Stopping.IsCancellationRequested)
            {
                // The session expired or was unbound between SYN and accept: nobody to hand it to.
                socket.Dispose();
                continue;
            }

            var connection = new StreamConnection(
                socket,
                entry.Client,
                entry.Virtual,
                entry.Origin is null ? PacketOrigin.Tun : PacketOrigin.Tunnel,
                _idleTimeout);
            StreamBinding binding = entry.Binding;
            _ = Task.Run(() => binding.Guard.RunStreamAsync(binding.Handler, connection, binding.Stopping));
        }
    }
}
