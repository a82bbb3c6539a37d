using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Origins;
using Gateway.Plugins.HttpProxy.Proxy;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Socks;

/// <summary>
/// A SOCKS5 UDP relay (RFC 1928 §7) for one client, alive as long as the TCP connection that asked for it. Datagrams
/// from the client carry a header (RSV FRAG ATYP DST.ADDR DST.PORT) and go to their destination from an egress socket;
/// answers come back to the client with the sender's address in the same header.
/// </summary>
/// <remarks>
/// Security: the client is pinned — only datagrams from the TCP client's address are relayed (and from the port it
/// announced, or else the first one it used), so nobody else can use the relay; fragments (FRAG ≠ 0) are refused
/// (RFC 1928 lets a server drop them); each destination is held to the client's destination policy after resolution;
/// and only hosts the client sent to may answer through the relay, so it cannot serve as a reflector.
/// </remarks>
internal sealed class UdpAssociation : IDisposable
{
    private const int MaxDatagram = 65_535;

    // Answers are accepted from at most this many recent destinations (a client talking to many DNS servers at once
    // is unusual; a bound keeps the set small).
    private const int MaxPeers = 64;

    private readonly HttpProxyHandler _proxy;
    private readonly ProxyRules _rules;
    private readonly IPAddress _clientAddress;
    private readonly DestinationPolicy? _destinations;
    private readonly Socket _relay;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private readonly List<IPEndPoint> _peers = [];
    private Socket? _egress4;
    private Socket? _egress6;
    private IPEndPoint? _client;
    private int _clientPort;
    private string? _lastName;
    private IPAddress[]? _lastAddresses;
    private long _lastActivity = Environment.TickCount64;

    /// <param name="clientAddress">The TCP client's address: the only source relayed.</param>
    /// <param name="hint">DST.ADDR/DST.PORT of the request: the port the client will send from, or 0.</param>
    /// <param name="local">The address the client reached the proxy on: the relay socket is bound there.</param>
    /// <param name="destinations">The client's destination policy; null for none.</param>
    public UdpAssociation(HttpProxyHandler proxy, ProxyRules rules, IPAddress clientAddress, SocksAddress hint, IPAddress local, DestinationPolicy? destinations)
    {
        _proxy = proxy;
        _rules = rules;
        _clientAddress = Unmap(clientAddress);
        _clientPort = hint.Port;
        _destinations = destinations;
        local = Unmap(local);
        _relay = new Socket(local.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            _relay.Bind(new IPEndPoint(local, 0));
        }
        catch
        {
            _relay.Dispose();
            throw;
        }

        LocalEndPoint = (IPEndPoint)_relay.LocalEndPoint!;
    }

    /// <summary>Where the client sends its datagrams (BND.ADDR/BND.PORT of the reply).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Relays until <see cref="Stop"/>, the plugin stops, or nothing moved for tunnelIdleTimeoutSeconds.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        using CancellationTokenSource linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, _stop.Token);
        Task idle = WatchIdleAsync(linked.Token);
        try
        {
            await FromClientAsync(linked.Token).ConfigureAwait(false);
        }
        finally
        {
            await linked.CancelAsync().ConfigureAwait(false);
            try
            {
                await idle.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Expected.
            }
        }
    }

    /// <summary>Ends the relay (the TCP connection closed).</summary>
    public void Stop()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already disposed.
        }
    }

    private async Task WatchIdleAsync(CancellationToken cancellationToken)
    {
        TimeSpan limit = _rules.Options.TunnelIdleTimeout;
        while (true)
        {
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(limit.TotalSeconds, 5)), cancellationToken).ConfigureAwait(false);
            if (Environment.TickCount64 - Interlocked.Read(ref _lastActivity) > limit.TotalMilliseconds)
            {
                _stop.Cancel();
                return;
            }
        }
    }

    private async Task FromClientAsync(CancellationToken cancellationToken)
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(MaxDatagram);
        EndPoint any = new IPEndPoint(_relay.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        while (true)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _relay.ReceiveFromAsync(buffer, SocketFlags.None, any, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException)
            {
                // An ICMP error for an earlier send (port unreachable) surfaces here on Linux: not fatal.
                continue;
            }

            var from = (IPEndPoint)received.RemoteEndPoint;
            if (!IsClient(from))
            {
                _proxy.Metrics.SocksDatagramDropped("not_client");
                continue;
            }

            await RelayOutAsync(buffer.AsMemory(0, received.ReceivedBytes), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>True for a datagram from the pinned client (the first one fixes the port when the client gave none).</summary>
    private bool IsClient(IPEndPoint from)
    {
        if (!Unmap(from.Address).Equals(_clientAddress))
        {
            return false;
        }

        if (_clientPort == 0)
        {
            _clientPort = from.Port;
        }

        if (from.Port != _clientPort)
        {
            return false;
        }

        _client ??= new IPEndPoint(from.Address, from.Port);
        return true;
    }

    private async ValueTask RelayOutAsync(ReadOnlyMemory<byte> datagram, CancellationToken cancellationToken)
    {
        ReadOnlySpan<byte> span = datagram.Span;
        // RSV(2) FRAG(1) then the address.
        if (span.Length < 4 || span[0] != 0 || span[1] != 0)
        {
            _proxy.Metrics.SocksDatagramDropped("malformed");
            return;
        }

        if (span[2] != 0)
        {
            // Fragmentation (RFC 1928 §7) is optional; this relay refuses fragments rather than reassemble them.
            _proxy.Metrics.SocksDatagramDropped("fragment");
            return;
        }

        int used = SocksAddress.TryRead(span[3..], out SocksAddress destination);
        if (used <= 0 || destination.Port == 0)
        {
            _proxy.Metrics.SocksDatagramDropped("malformed");
            return;
        }

        IPAddress? target = destination.Address ?? await ResolveAsync(destination.Host!, cancellationToken).ConfigureAwait(false);
        if (target is null)
        {
            _proxy.Metrics.SocksDatagramDropped("unresolved");
            return;
        }

        target = Unmap(target);
        if (_destinations is not null && !_destinations.IsAllowed(NetAddress.FromIPAddress(target), out _))
        {
            _proxy.Metrics.DestinationDenied();
            _proxy.Metrics.SocksDatagramDropped("denied");
            return;
        }

        var endpoint = new IPEndPoint(target, destination.Port);
        Socket egress = Egress(target.AddressFamily, cancellationToken);
        Remember(endpoint);
        Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
        try
        {
            await egress.SendToAsync(datagram[(3 + used)..], SocketFlags.None, endpoint, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            _proxy.Metrics.SocksDatagramDropped("send_failed");
        }
    }

    private async ValueTask<IPAddress?> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (host == _lastName && _lastAddresses is not null)
        {
            return _lastAddresses[0];
        }

        try
        {
            IPAddress[] addresses = await _rules.Connector.ResolveAsync(host, cancellationToken).ConfigureAwait(false);
            _lastName = host;
            _lastAddresses = addresses;
            return addresses[0];
        }
        catch (OriginException)
        {
            return null;
        }
    }

    /// <summary>The egress socket for a family, created (protected from the TUN) with its answer loop on first use.</summary>
    private Socket Egress(AddressFamily family, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            ref Socket? slot = ref family == AddressFamily.InterNetwork ? ref _egress4 : ref _egress6;
            if (slot is null)
            {
                slot = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
                _proxy.ProtectSocket(slot);
                slot.Bind(new IPEndPoint(family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0));
                _ = FromPeersAsync(slot, cancellationToken);
            }

            return slot;
        }
    }

    private void Remember(IPEndPoint endpoint)
    {
        lock (_gate)
        {
            if (_peers.Contains(endpoint))
            {
                return;
            }

            if (_peers.Count == MaxPeers)
            {
                _peers.RemoveAt(0);
            }

            _peers.Add(endpoint);
        }
    }

    private bool IsPeer(IPEndPoint endpoint)
    {
        lock (_gate)
        {
            return _peers.Contains(endpoint);
        }
    }

    /// <summary>Answers from destinations go back to the client with the sender in the header (RSV FRAG=0 ATYP ADDR PORT).</summary>
    private async Task FromPeersAsync(Socket egress, CancellationToken cancellationToken)
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(MaxDatagram + 22);
        const int HeaderRoom = 22;
        EndPoint any = new IPEndPoint(egress.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await egress.ReceiveFromAsync(buffer.AsMemory(HeaderRoom, MaxDatagram), SocketFlags.None, any, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            var from = (IPEndPoint)received.RemoteEndPoint;
            IPEndPoint? client = _client;
            if (client is null || !IsPeer(new IPEndPoint(Unmap(from.Address), from.Port)))
            {
                _proxy.Metrics.SocksDatagramDropped("unsolicited");
                continue;
            }

            // The header goes right in front of the payload: 3 + 7 bytes for an IPv4 sender, 3 + 19 for IPv6.
            IPAddress sender = Unmap(from.Address);
            int length = sender.AddressFamily == AddressFamily.InterNetwork ? 10 : 22;
            buffer.AsSpan(HeaderRoom - length, 3).Clear();
            SocksAddress.Write(buffer.AsSpan(HeaderRoom - length + 3), sender, from.Port);
            Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
            try
            {
                await _relay.SendToAsync(buffer.AsMemory(HeaderRoom - length, length + received.ReceivedBytes), SocketFlags.None, client, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                _proxy.Metrics.SocksDatagramDropped("send_failed");
            }
        }
    }

    private static IPAddress Unmap(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    public void Dispose()
    {
        Stop();
        _relay.Dispose();
        lock (_gate)
        {
            _egress4?.Dispose();
            _egress6?.Dispose();
        }

        _stop.Dispose();
    }
}
