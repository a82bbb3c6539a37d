using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Proxy;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// Serves the plugin's stream handler on a real loopback listener, exactly as the host does in
/// production: accept, wrap in a <see cref="StreamConnection"/>, call HandleAsync, dispose.
/// </summary>
internal sealed class ProxyHarness : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Meter _meter = new("Gateway.Plugins.http-proxy.tests");
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly NetEndpoint? _client;
    private readonly PacketOrigin _origin;

    /// <param name="options">The plugin's options (defaults when null).</param>
    /// <param name="client">
    /// The client endpoint the handler is told about instead of the real (loopback) peer, to act out a
    /// remote client; the bytes still flow over loopback.
    /// </param>
    /// <param name="origin">How connections are said to have entered the gateway.</param>
    /// <param name="hostAddresses">This host's addresses as the proxy sees them (default: read from the interfaces).</param>
    public ProxyHarness(HttpProxyOptions? options = null, NetEndpoint? client = null, PacketOrigin origin = PacketOrigin.HostSocket, HostAddresses? hostAddresses = null)
    {
        _client = client;
        _origin = origin;
        Handler = new HttpProxyHandler(options ?? new HttpProxyOptions(), static _ => { }, static () => SystemNameResolver.Instance, new HttpProxyMetrics(_meter),
            NullLogger.Instance, hostAddresses);
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    public HttpProxyHandler Handler { get; }

    /// <summary>The meter the plugin's instruments are on (IPluginContext.Meter in production).</summary>
    public Meter Meter => _meter;

    public int Port { get; }

    public string ProxyUrl => $"http://127.0.0.1:{Port}";

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        // As TcpHostListener does for every host socket (the handler sets it itself only on virtual endpoints).
        socket.NoDelay = true;
        var connection = new StreamConnection(
            socket,
            _client ?? NetEndpoint.FromIPEndPoint((IPEndPoint)socket.RemoteEndPoint!),
            NetEndpoint.FromIPEndPoint((IPEndPoint)socket.LocalEndPoint!),
            _origin,
            Timeout.InfiniteTimeSpan);
        await using (connection)
        {
            await Handler.HandleAsync(connection, _stop.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _acceptLoop;
        Handler.Dispose();
        _meter.Dispose();
        _stop.Dispose();
    }
}
