using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Gateway.Host.Networking;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Sockets;

/// <summary>
/// A plugin's datagram handler on a UDP host socket: one receive loop reusing one buffer and one
/// <see cref="SocketAddress"/> (no allocation per datagram), replies sent with SendTo from the same socket.
/// </summary>
internal sealed class UdpHostListener : IDatagramResponder, IDisposable
{
    /// <summary>The largest UDP payload over IPv4: 65535 − 20 (IP header) − 8 (UDP header).</summary>
    public const int MaxPayloadV4 = 65507;

    /// <summary>The largest UDP payload over IPv6 without jumbograms: 65535 − 8 (UDP header).</summary>
    public const int MaxPayloadV6 = 65527;

    [ThreadStatic]
    private static SocketAddress? t_replyV4;

    [ThreadStatic]
    private static SocketAddress? t_replyV6;

    private readonly Socket _socket;
    private readonly PluginHandlerGuard _guard;
    private readonly IDatagramHandler _handler;
    private readonly ILogger _logger;
    private readonly Counter<long> _datagrams;
    private readonly KeyValuePair<string, object?> _pluginTag;
    private readonly CancellationTokenSource _stop = new();
    private readonly int _maxReply;
    private Task _loop = Task.CompletedTask;

    public UdpHostListener(NetEndpoint endpoint, PluginHandlerGuard guard, IDatagramHandler handler, ILogger logger, Counter<long> datagrams)
    {
        _guard = guard;
        _handler = handler;
        _logger = logger;
        _datagrams = datagrams;
        _pluginTag = new KeyValuePair<string, object?>("plugin", guard.PluginId);
        _socket = new Socket(endpoint.Address.Family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endpoint.Address.IsV6)
            {
                // IPV6_V6ONLY: [::] serves IPv6 only, so 0.0.0.0 on the same port can be bound separately.
                _socket.DualMode = false;
            }

            _socket.Bind(endpoint.ToIPEndPoint());
        }
        catch
        {
            _socket.Dispose();
            throw;
        }

        Local = NetEndpoint.FromIPEndPoint((System.Net.IPEndPoint)_socket.LocalEndPoint!);
        _maxReply = endpoint.Address.IsV6 ? MaxPayloadV6 : MaxPayloadV4;
    }

    /// <summary>The bound endpoint (with the real port when 0 was asked for).</summary>
    public NetEndpoint Local { get; }

    public void Start() => _loop = Task.Run(ReceiveLoopAsync);

    /// <inheritdoc/>
    public bool TrySend(in DatagramRequest request, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > _maxReply || request.Client.Address.IsV6 != Local.Address.IsV6)
        {
            return false;
        }

        SocketAddress address = request.Client.Address.IsV6
            ? t_replyV6 ??= new SocketAddress(AddressFamily.InterNetworkV6)
            : t_replyV4 ??= new SocketAddress(AddressFamily.InterNetwork);
        SocketAddressCodec.Write(address, request.Client);
        try
        {
            return _socket.SendTo(payload, SocketFlags.None, address) == payload.Length;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The loop ends by cancellation or a closed socket; nothing to report.
        }

        _stop.Dispose();
        SocketsLog.Closed(_logger, _guard.PluginId, "udp", new NetEndpointText(Local));
    }

    private async Task ReceiveLoopAsync()
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(65536, pinned: true);
        var from = new SocketAddress(_socket.AddressFamily);
        CancellationToken token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, from, token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || token.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused or SocketError.MessageSize)
            {
                // An ICMP error for an earlier reply, or a datagram larger than the buffer: not fatal for the socket.
                continue;
            }
            catch (SocketException ex)
            {
                SocketsLog.ReceiveFailed(_logger, _guard.PluginId, "udp", new NetEndpointText(Local), ex.SocketErrorCode.ToString());
                await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            _datagrams.Add(1, _pluginTag);
            var request = new DatagramRequest(this, SocketAddressCodec.Read(from), Local, PacketOrigin.HostSocket, _maxReply);
            _guard.InvokeDatagram(_handler, request, buffer.AsSpan(0, received));
        }
    }
}
