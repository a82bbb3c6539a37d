using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.WireGuard.Device;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.WireGuard.Conn;

/// <summary>
/// The device's UDP sockets (one IPv4, one IPv6-only, on the same port, like wireguard-go's StdNetBind). Each
/// socket has a receive thread that drains up to <see cref="BatchSize"/> datagrams per wake-up, decrypts them in
/// place on that thread and flushes the TUN writer once per batch. Receive and send use
/// <see cref="SocketAddress"/> overloads, so the steady state allocates nothing.
/// </summary>
internal sealed class UdpTransport : IDatagramSink, IDisposable
{
    /// <summary>Datagrams handled per wake-up before the inbound side is flushed.</summary>
    public const int BatchSize = 64;

    private const int SocketBufferBytes = 4 * 1024 * 1024;

    private readonly WireGuardDevice _device;
    private readonly ILogger _logger;
    private readonly Socket? _v4;
    private readonly Socket? _v6;
    private readonly List<Thread> _threads = new();
    private volatile bool _stopping;

    /// <summary>Wraps already bound sockets (either may be null).</summary>
    public UdpTransport(WireGuardDevice device, Socket? v4, Socket? v6, ILogger logger)
    {
        _device = device;
        _v4 = v4;
        _v6 = v6;
        _logger = logger;
    }

    /// <summary>The bound port.</summary>
    public int Port => ((IPEndPoint?)(_v4 ?? _v6)?.LocalEndPoint)?.Port ?? 0;

    /// <summary>
    /// Creates an unbound UDP socket of <paramref name="family"/> with large buffers (call the host's
    /// ProtectSocket on it, then <see cref="Bind"/>).
    /// </summary>
    public static Socket CreateSocket(AddressFamily family)
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        if (family == AddressFamily.InterNetworkV6)
        {
            socket.DualMode = false;
        }

        socket.ReceiveBufferSize = SocketBufferBytes;
        socket.SendBufferSize = SocketBufferBytes;
        return socket;
    }

    /// <summary>Binds a socket to the wildcard address of its family on <paramref name="port"/> (0 = any).</summary>
    public static void Bind(Socket socket, int port) =>
        socket.Bind(new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, port));

    /// <summary>Starts the receive threads.</summary>
    public void Start()
    {
        foreach (Socket? socket in new[] { _v4, _v6 })
        {
            if (socket is null)
            {
                continue;
            }

            var thread = new Thread(ReceiveLoop)
            {
                IsBackground = true,
                Name = "wireguard udp " + socket.AddressFamily,
            };
            _threads.Add(thread);
            thread.Start(socket);
        }
    }

    /// <inheritdoc/>
    public bool Send(ReadOnlySpan<byte> datagram, SocketAddress destination)
    {
        Socket? socket = destination.Family == AddressFamily.InterNetworkV6 ? _v6 : _v4;
        if (socket is null)
        {
            return false;
        }

        try
        {
            socket.SendTo(datagram, SocketFlags.None, destination);
            return true;
        }
        catch (SocketException ex)
        {
            WireGuardLog.SendFailed(_logger, Peer.ToNetEndpoint(destination).ToString(), ex.SocketErrorCode.ToString());
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _stopping = true;
        _v4?.Dispose();
        _v6?.Dispose();
        foreach (Thread thread in _threads)
        {
            thread.Join(TimeSpan.FromSeconds(2));
        }
    }

    private void ReceiveLoop(object? state)
    {
        var socket = (Socket)state!;
        byte[] buffer = new byte[WireGuardDevice.MaxMessageSize];
        var source = new SocketAddress(socket.AddressFamily);
        while (!_stopping)
        {
            try
            {
                int length = socket.ReceiveFrom(buffer, SocketFlags.None, source);
                _device.ReceiveDatagram(buffer.AsSpan(0, length), source);
                for (int i = 1; i < BatchSize && socket.Available > 0; i++)
                {
                    length = socket.ReceiveFrom(buffer, SocketFlags.None, source);
                    _device.ReceiveDatagram(buffer.AsSpan(0, length), source);
                }

                _device.EndReceiveBatch();
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (_stopping || ex.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.MessageSize)
            {
                // ICMP errors for earlier sends surface on receive; they say nothing about this socket.
            }
            catch (Exception ex) when (!_stopping)
            {
                WireGuardLog.ReceiveLoopFailed(_logger, socket.AddressFamily.ToString(), ex.Message);
                Thread.Sleep(10);
            }
        }
    }
}
