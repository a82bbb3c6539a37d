using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Auth;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Io.Epoll;
using Gateway.Plugins.HttpProxy.Logging;
using Gateway.Plugins.HttpProxy.Origins;
using Gateway.Plugins.HttpProxy.Parents;
using Gateway.Plugins.HttpProxy.Proxy;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.HttpProxy.Socks;

/// <summary>
/// One SOCKS client connection (RFC 1928; SOCKS4 and 4a for old clients): method negotiation, then one request —
/// CONNECT (a tunnel through <see cref="TunnelRelay"/>, like HTTP CONNECT), UDP ASSOCIATE (<see cref="UdpAssociation"/>)
/// — while BIND is refused with "command not supported". The client ACL, <c>connectPorts</c> and the destination
/// policy apply exactly as to HTTP; names are resolved by the gateway's resolver (dns-dot when it runs), never by
/// the client.
/// </summary>
/// <remarks>
/// When the client's reader has a <see cref="SocketReader.Loop"/>, the session runs on that epoll loop's thread between
/// waits: direct CONNECTs connect and relay on the loop too, and every step that may block (bcrypt, name resolution,
/// parent proxies) first leaves the loop for the thread pool (<see cref="EpollLoop.LeaveAsync"/>). A tunnel through a parent
/// takes the client off the loop and relays on System.Net.Sockets.
/// </remarks>
internal sealed class SocksSession
{
    /// <summary>The first byte of a SOCKS5 greeting.</summary>
    public const byte Version5 = 5;

    /// <summary>The first byte of a SOCKS4/4a request.</summary>
    public const byte Version4 = 4;

    private const byte MethodNoAuthentication = 0x00;
    private const byte MethodUserPassword = 0x02;
    private const byte MethodNoneAcceptable = 0xFF;
    private const byte CommandConnect = 1;
    private const byte CommandBind = 2;
    private const byte CommandUdpAssociate = 3;

    private readonly HttpProxyHandler _proxy;
    private readonly ProxyRules _rules;
    private readonly StreamConnection _connection;
    private readonly Socket _socket;
    private readonly SocketReader _client;
    private readonly CancellationTokenSource _cts;
    private readonly CancellationToken _stopping;
    private readonly bool _localClient;
    private readonly DestinationPolicy? _destinations;

    // Replies are written here: the method reply (2 bytes), the RFC 1929 status (2) and the request's reply (at most
    // 3 + 19) fit together. _held of them are written and not yet sent: a client that pipelines (sends its next message
    // before our answer to the previous one, as curl can) gets them in one write with the next answer.
    private readonly byte[] _reply = new byte[32];
    private int _held;
    private readonly ProxyAuthenticator? _auth;
    private readonly AccessLog? _access;
    private long _sentToClient;
    private string? _user;

    // For the access log line.
    private DateTimeOffset _time;
    private long _started;

    /// <param name="client">The connection's receive buffer, holding at least the first byte.</param>
    /// <param name="deadline">The connection's cancellation source, linked to <paramref name="stopping"/>; re-armed here, disposed by the caller.</param>
    public SocksSession(HttpProxyHandler proxy, ProxyRules rules, StreamConnection connection, SocketReader client, CancellationTokenSource deadline,
        CancellationToken stopping)
    {
        _proxy = proxy;
        _rules = rules;
        _connection = connection;
        _socket = connection.Socket;
        _client = client;
        _stopping = stopping;
        _cts = deadline;
        _localClient = AccessControl.IsLocalClient(connection.Client.Address, proxy.HostAddresses);
        _destinations = _localClient ? null : rules.Destinations;
        _auth = proxy.Authenticator;
        _access = proxy.AccessLog;
    }

    private ILogger Logger => _proxy.Logger;

    private HttpProxyMetrics Metrics => _proxy.Metrics;

    private string ClientText => _connection.Client.ToString();

    public async Task RunAsync()
    {
        try
        {
            // The whole negotiation must arrive within the head timeout, as an HTTP head must.
            _cts.CancelAfter(_rules.Options.RequestHeadersTimeout);
            if (_client.Buffered[0] == Version4)
            {
                await RunSocks4Async().ConfigureAwait(false);
            }
            else
            {
                await RunSocks5Async().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
        {
            LogEnded("idle or negotiation timeout");
        }
        catch (OperationCanceledException)
        {
            // The plugin is stopping.
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            LogEnded(e.Message);
        }
        finally
        {
            Metrics.ClientBytes(_client.BytesReceived, _sentToClient);
        }
    }

    private async Task RunSocks5Async()
    {
        // Greeting: VER NMETHODS METHODS (RFC 1928 §3).
        if (!await NeedAsync(2).ConfigureAwait(false) || !await NeedAsync(2 + _client.Buffered[1]).ConfigureAwait(false) || _client.Buffered[1] == 0)
        {
            LogEnded("incomplete or empty SOCKS5 greeting");
            return;
        }

        ReadOnlySpan<byte> methods = _client.Buffered.Slice(2, _client.Buffered[1]);
        bool allowed = _rules.Access.IsClientAllowed(_connection.Client.Address);
        // With auth on, only username/password (RFC 1929) is acceptable; without, only "no authentication".
        byte wanted = _auth is null ? MethodNoAuthentication : MethodUserPassword;
        byte method = allowed && methods.IndexOf(wanted) >= 0 ? wanted : MethodNoneAcceptable;
        _client.Consume(2 + methods.Length);
        Hold(Version5, method);
        if (!allowed || method == MethodNoneAcceptable || _client.Count == 0)
        {
            // A client that has not sent its next message yet waits for this answer; one that has is pipelining and
            // gets it with the next answer.
            await FlushAsync().ConfigureAwait(false);
        }

        if (!allowed)
        {
            Metrics.SocksRequest("connect", SocksReply.NotAllowed);
            LogClientDenied();
            return;
        }

        if (method == MethodNoneAcceptable)
        {
            if (_auth is not null)
            {
                Metrics.AuthFailed("socks5");
            }

            LogEnded("the client offered no method this proxy accepts");
            return;
        }

        if (method == MethodUserPassword && !await AuthenticateAsync().ConfigureAwait(false))
        {
            return;
        }

        // Request: VER CMD RSV ATYP DST.ADDR DST.PORT (RFC 1928 §4).
        if (!await NeedAsync(4).ConfigureAwait(false))
        {
            LogEnded("incomplete SOCKS5 request");
            return;
        }

        if (_client.Buffered[0] != Version5)
        {
            LogEnded("not a SOCKS5 request after the greeting");
            return;
        }

        byte command = _client.Buffered[1];
        int used;
        SocksAddress destination;
        while ((used = SocksAddress.TryRead(_client.Buffered[3..], out destination)) == 0)
        {
            if (!await MoreAsync().ConfigureAwait(false))
            {
                LogEnded("incomplete SOCKS5 request");
                return;
            }
        }

        if (used < 0)
        {
            Metrics.SocksRequest(CommandName(command), SocksReply.AddressTypeNotSupported);
            await ReplyAsync(SocksReply.AddressTypeNotSupported).ConfigureAwait(false);
            return;
        }

        _client.Consume(3 + used);
        switch (command)
        {
            case CommandConnect:
                await ConnectAsync(destination, socks4: false).ConfigureAwait(false);
                break;
            case CommandUdpAssociate:
                await AssociateAsync(destination).ConfigureAwait(false);
                break;
            default:
                // BIND (an inbound connection through the proxy) and unknown commands: refused cleanly.
                Metrics.SocksRequest(CommandName(command), SocksReply.CommandNotSupported);
                await ReplyAsync(SocksReply.CommandNotSupported).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>
    /// RFC 1929: VER=1 ULEN UNAME PLEN PASSWD, answered VER=1 STATUS (0 success); a failure closes the connection.
    /// </summary>
    private async ValueTask<bool> AuthenticateAsync()
    {
        if (!await NeedAsync(2).ConfigureAwait(false) || _client.Buffered[0] != 1
            || !await NeedAsync(2 + _client.Buffered[1] + 1).ConfigureAwait(false)
            || !await NeedAsync(3 + _client.Buffered[1] + _client.Buffered[2 + _client.Buffered[1]]).ConfigureAwait(false))
        {
            LogEnded("incomplete or malformed username/password request (RFC 1929)");
            return false;
        }

        int userLength = _client.Buffered[1];
        int passwordLength = _client.Buffered[2 + userLength];
        string user = Encoding.UTF8.GetString(_client.Buffered.Slice(2, userLength));
        string password = Encoding.UTF8.GetString(_client.Buffered.Slice(3 + userLength, passwordLength));
        _client.Consume(3 + userLength + passwordLength);
        await EpollLoop.LeaveAsync().ConfigureAwait(false);   // bcrypt, and the failure delay
        bool valid = userLength > 0 && await _auth!.CheckAsync(_connection.Client.Address, user, password, _cts.Token).ConfigureAwait(false);
        Hold(1, valid ? (byte)0 : (byte)1);
        if (!valid || _client.Count == 0)
        {
            await FlushAsync().ConfigureAwait(false);
        }

        if (valid)
        {
            _user = user;
            Metrics.Authenticated("socks5", user);
            return true;
        }

        _proxy.AuthenticationFailed(ClientText, user, "socks5");

        Started();
        WriteAccessLog("SOCKS5", null, 407, -1, "TCP_DENIED", null);
        return false;
    }

    /// <summary>
    /// SOCKS4 (VN CD DSTPORT DSTIP USERID NUL) and 4a (DSTIP 0.0.0.x, then the host name NUL-terminated): CONNECT only.
    /// </summary>
    private async Task RunSocks4Async()
    {
        const int MaxField = 255;
        int nul1;
        while (true)
        {
            ReadOnlySpan<byte> buffered = _client.Buffered;
            nul1 = buffered.Length > 8 ? buffered[8..].IndexOf((byte)0) : -1;
            if (nul1 >= 0)
            {
                break;
            }

            if (buffered.Length > 8 + MaxField || !await MoreAsync().ConfigureAwait(false))
            {
                LogEnded("incomplete or oversized SOCKS4 request");
                return;
            }
        }

        int end = 8 + nul1 + 1;
        byte command = _client.Buffered[1];
        int port = BinaryPrimitives.ReadUInt16BigEndian(_client.Buffered[2..]);
        ReadOnlySpan<byte> ip = _client.Buffered.Slice(4, 4);
        SocksAddress destination;
        if (ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0)
        {
            // SOCKS4a: the name follows the user id.
            int nul2;
            while ((nul2 = _client.Buffered[end..].IndexOf((byte)0)) < 0)
            {
                if (_client.Count - end > MaxField || !await MoreAsync().ConfigureAwait(false))
                {
                    LogEnded("incomplete or oversized SOCKS4a host name");
                    return;
                }
            }

            ReadOnlySpan<byte> name = _client.Buffered.Slice(end, nul2);
            byte[] encoded = new byte[2 + name.Length + 2];
            encoded[0] = SocksAddress.DomainName;
            encoded[1] = (byte)Math.Min(name.Length, 255);
            name.CopyTo(encoded.AsSpan(2));
            BinaryPrimitives.WriteUInt16BigEndian(encoded.AsSpan(2 + name.Length), (ushort)port);
            if (name.Length > 255 || SocksAddress.TryRead(encoded, out destination) <= 0)
            {
                await Socks4ReplyAsync(granted: false).ConfigureAwait(false);
                return;
            }

            end += nul2 + 1;
        }
        else
        {
            byte[] encoded = [SocksAddress.IPv4, ip[0], ip[1], ip[2], ip[3], (byte)(port >> 8), (byte)port];
            SocksAddress.TryRead(encoded, out destination);
        }

        _client.Consume(end);
        if (_auth is not null)
        {
            // SOCKS4 carries no password: with auth on, only SOCKS5 may be used.
            Metrics.AuthFailed("socks4");
            await Socks4ReplyAsync(granted: false).ConfigureAwait(false);
            return;
        }

        if (!_rules.Access.IsClientAllowed(_connection.Client.Address))
        {
            Metrics.SocksRequest("connect", SocksReply.NotAllowed);
            LogClientDenied();
            await Socks4ReplyAsync(granted: false).ConfigureAwait(false);
            return;
        }

        if (command != CommandConnect)
        {
            Metrics.SocksRequest(CommandName(command), SocksReply.CommandNotSupported);
            await Socks4ReplyAsync(granted: false).ConfigureAwait(false);
            return;
        }

        await ConnectAsync(destination, socks4: true).ConfigureAwait(false);
    }

    /// <summary>CONNECT: resolve, check, connect, reply with the bound address, then relay until both sides close.</summary>
    private async Task ConnectAsync(SocksAddress destination, bool socks4)
    {
        Started();
        string method = socks4 ? "SOCKS4" : "SOCKS5";
        if (!_rules.Access.IsConnectPortAllowed(destination.Port, _localClient))
        {
            HttpProxyLog.PortDenied(Logger, ClientText, destination.Port);
            Metrics.SocksRequest("connect", SocksReply.NotAllowed);
            await FailAsync(SocksReply.NotAllowed, socks4).ConfigureAwait(false);
            WriteAccessLog(method, destination, SocksReply.NotAllowed, null);
            return;
        }

        OriginTunnel upstream;
        try
        {
            upstream = await OpenAsync(destination).ConfigureAwait(false);
        }
        catch (OriginException e)
        {
            SocksReply reply = ReplyFor(e);
            Metrics.SocksRequest("connect", reply);
            LogOriginFailure(destination, e);
            await FailAsync(reply, socks4).ConfigureAwait(false);
            WriteAccessLog(method, destination, reply, null);
            return;
        }

        using (upstream)
        {
            if (upstream.Reader.Loop is null && _client.Loop is { } loop)
            {
                // Through a parent: the relay runs on System.Net.Sockets for both sides.
                _client.Loop = null;
                loop.Detach();
            }

            if (socks4)
            {
                await Socks4ReplyAsync(granted: true).ConfigureAwait(false);
            }
            else
            {
                await ReplyAsync(SocksReply.Succeeded, upstream.LocalEndPoint()).ConfigureAwait(false);
            }

            Metrics.SocksRequest("connect", SocksReply.Succeeded);
            Metrics.TunnelOpened();
            var relay = new TunnelRelay(_socket, _client, upstream.Socket, upstream.Reader);
            try
            {
                await relay.RunAsync(_cts, _rules.Options.TunnelIdleTimeout).ConfigureAwait(false);
            }
            finally
            {
                _sentToClient += relay.SentToClient;
                Metrics.TunnelClosed();
                WriteAccessLog(method, destination, SocksReply.Succeeded, upstream, upstream.Parent?.HostPort);
            }
        }
    }

    /// <summary>
    /// The connection for a CONNECT: through the first parent proxy that serves the destination and is up (the name
    /// passed on unresolved), else direct to an address the destination policy allows.
    /// </summary>
    /// <exception cref="OriginException">Resolution or connection failed (502/504) or the policy refused it (403).</exception>
    private async ValueTask<OriginTunnel> OpenAsync(SocksAddress destination)
    {
        IPAddress[]? addresses = destination.Address is { } literal ? [literal] : null;
        ParentRouter parents = _rules.Parents;
        if (!parents.IsEmpty)
        {
            // A parent is connected to and spoken to with blocking steps (a loopback connect, its handshake).
            await EpollLoop.LeaveAsync().ConfigureAwait(false);
            // Parents match by name, so an address destination is formatted for them; without parents it never is.
            string host = destination.Host ?? destination.Address!.ToString();
            if (addresses is null && parents.NeedsAddresses(host))
            {
                addresses = await _rules.Connector.ResolveAsync(host, _cts.Token).ConfigureAwait(false);
            }

            if (await parents.TunnelAsync(host, destination.Port, addresses, _destinations, _rules.Options.BufferSize, _cts, _stopping).ConfigureAwait(false) is { } tunnel)
            {
                return tunnel;
            }
        }

        if (addresses is null)
        {
            await EpollLoop.LeaveAsync().ConfigureAwait(false);   // the resolver may block (the system's, or dns-dot's)
            addresses = await _rules.Connector.ResolveAsync(destination.Host!, _cts.Token).ConfigureAwait(false);
        }

        if (_client.Loop is { } loop)
        {
            return await _rules.Connector.ConnectOnLoopAsync(addresses, destination.Port, _destinations, _cts, _stopping, loop.Loop, _rules.Options.BufferSize)
                .ConfigureAwait(false);
        }

        (Socket socket, _) = await _rules.Connector.ConnectAsync(addresses, destination.Port, _destinations, _cts, _stopping).ConfigureAwait(false);
        return new OriginTunnel(socket, new SocketReader(socket, _rules.Options.BufferSize), parent: null);
    }

    /// <summary>UDP ASSOCIATE (RFC 1928 §7): a relay socket for the client, alive while this TCP connection is.</summary>
    private async Task AssociateAsync(SocksAddress clientHint)
    {
        Started();
        IPAddress local = ((IPEndPoint)_socket.LocalEndPoint!).Address;
        UdpAssociation association;
        try
        {
            association = new UdpAssociation(_proxy, _rules, _connection.Client.Address.ToIPAddress(), clientHint, local, _destinations);
        }
        catch (SocketException e)
        {
            Metrics.SocksRequest("udp_associate", SocksReply.GeneralFailure);
            LogEnded($"cannot open a UDP relay socket: {e.SocketErrorCode}");
            await ReplyAsync(SocksReply.GeneralFailure).ConfigureAwait(false);
            return;
        }

        using (association)
        {
            await ReplyAsync(SocksReply.Succeeded, association.LocalEndPoint).ConfigureAwait(false);
            Metrics.SocksRequest("udp_associate", SocksReply.Succeeded);
            // RFC 1928 §7: the association ends when the TCP connection it arrived on ends.
            _cts.CancelAfter(Timeout.InfiniteTimeSpan);
            Task relay = association.RunAsync(_stopping);
            try
            {
                while (await _client.FillAsync(_cts.Token).ConfigureAwait(false) > 0)
                {
                    // Nothing may follow the request on the control connection; whatever comes is dropped.
                    _client.Consume(_client.Count);
                }
            }
            finally
            {
                association.Stop();
                await relay.ConfigureAwait(false);
                WriteAccessLog("SOCKS5-UDP", SocksAddress.FromEndPoint(association.LocalEndPoint), SocksReply.Succeeded, null);
            }
        }
    }

    private void Started()
    {
        _time = DateTimeOffset.UtcNow;
        _started = Stopwatch.GetTimestamp();
    }

    private void WriteAccessLog(string method, SocksAddress? target, SocksReply reply, OriginTunnel? peer, string? parent = null) =>
        WriteAccessLog(method, target, reply switch
        {
            SocksReply.Succeeded => 200,
            SocksReply.NotAllowed => 403,
            SocksReply.TtlExpired => 504,
            SocksReply.CommandNotSupported or SocksReply.AddressTypeNotSupported => 501,
            _ => 502,
        }, (int)reply, reply switch
        {
            SocksReply.Succeeded => "TCP_TUNNEL",
            SocksReply.NotAllowed => "TCP_DENIED",
            _ => "TCP_MISS",
        }, peer, parent);

    /// <summary>
    /// One access log line for this SOCKS connection; the status is the nearest HTTP status of the reply. The target
    /// ("-" when none) and the origin's address are formatted only when the log is on.
    /// </summary>
    private void WriteAccessLog(string method, SocksAddress? target, int status, int reply, string result, OriginTunnel? peer, string? parent = null)
    {
        if (_access is null)
        {
            return;
        }

        _access.Write(new AccessLogEntry
        {
            Time = _time,
            Elapsed = Stopwatch.GetElapsedTime(_started),
            Client = _connection.Client.Address.ToString(),
            User = _user,
            Result = result,
            Status = status,
            Bytes = _sentToClient,
            Method = method,
            Url = target?.ToString() ?? "-",
            Peer = peer?.RemoteEndPoint?.ToString(),
            Parent = parent,
            Protocol = method.StartsWith("SOCKS4", StringComparison.Ordinal) ? "socks4" : "socks5",
            SocksReply = reply,
        });
    }

    private async Task FailAsync(SocksReply reply, bool socks4)
    {
        if (socks4)
        {
            await Socks4ReplyAsync(granted: false).ConfigureAwait(false);
        }
        else
        {
            await ReplyAsync(reply).ConfigureAwait(false);
        }
    }

    /// <summary>VER REP RSV ATYP BND.ADDR BND.PORT (RFC 1928 §6), after any held answer; a failure carries 0.0.0.0:0.</summary>
    private ValueTask ReplyAsync(SocksReply reply, IPEndPoint? bound = null)
    {
        Hold(Version5, (byte)reply);
        _reply[_held++] = 0;
        _held += SocksAddress.Write(_reply.AsSpan(_held), bound?.Address ?? IPAddress.Any, bound?.Port ?? 0);
        return FlushAsync();
    }

    /// <summary>VN=0 CD DSTPORT DSTIP (SOCKS4: 90 granted, 91 rejected or failed).</summary>
    private ValueTask Socks4ReplyAsync(bool granted)
    {
        _reply.AsSpan(0, 8).Clear();
        _reply[1] = granted ? (byte)90 : (byte)91;
        _held = 8;
        return FlushAsync();
    }

    /// <summary>Writes a two-byte answer after those held, to be sent by the next <see cref="FlushAsync"/>.</summary>
    private void Hold(byte first, byte second)
    {
        _reply[_held] = first;
        _reply[_held + 1] = second;
        _held += 2;
    }

    /// <summary>Sends the held answers in one write.</summary>
    private ValueTask FlushAsync()
    {
        int length = _held;
        _held = 0;
        return SendAsync(_reply.AsMemory(0, length));
    }

    private async ValueTask SendAsync(ReadOnlyMemory<byte> bytes)
    {
        if (_client.Loop is { } loop)
        {
            await loop.SendAsync(bytes).ConfigureAwait(false);
            _sentToClient += bytes.Length;
            return;
        }

        while (!bytes.IsEmpty)
        {
            int sent = await _socket.SendAsync(bytes, SocketFlags.None, _cts.Token).ConfigureAwait(false);
            _sentToClient += sent;
            bytes = bytes[sent..];
        }
    }

    /// <summary>Receives until at least <paramref name="count"/> bytes are buffered; false when the client closed first.</summary>
    private async ValueTask<bool> NeedAsync(int count)
    {
        while (_client.Count < count)
        {
            if (!await MoreAsync().ConfigureAwait(false))
            {
                return false;
            }
        }

        return true;
    }

    private async ValueTask<bool> MoreAsync() => !_client.IsFull && await _client.FillAsync(_cts.Token).ConfigureAwait(false) > 0;

    /// <summary>The SOCKS reply for a failed connection (RFC 1928 §6).</summary>
    public static SocksReply ReplyFor(OriginException e) => e.Status switch
    {
        403 => SocksReply.NotAllowed,
        _ => e.Error switch
        {
            SocketError.ConnectionRefused => SocksReply.ConnectionRefused,
            SocketError.NetworkUnreachable or SocketError.NetworkDown => SocksReply.NetworkUnreachable,
            SocketError.HostUnreachable or SocketError.HostNotFound or SocketError.HostDown or SocketError.NoData => SocksReply.HostUnreachable,
            SocketError.TimedOut => SocksReply.TtlExpired,
            _ => SocksReply.GeneralFailure,
        },
    };

    private static string CommandName(byte command) => command switch
    {
        CommandConnect => "connect",
        CommandBind => "bind",
        CommandUdpAssociate => "udp_associate",
        _ => "unknown",
    };

    private void LogOriginFailure(SocksAddress destination, OriginException e)
    {
        if (e.Status == 403)
        {
            Metrics.DestinationDenied();
            if (_proxy.Warnings.ShouldLog(WarningKind.DestinationDenied))
            {
                HttpProxyLog.DestinationDenied(Logger, ClientText, destination.ToString(), e.DeniedBy ?? string.Empty);
            }
        }
        else if (_proxy.Warnings.ShouldLog(e.Status == 504 ? WarningKind.OriginTimeout : WarningKind.OriginUnreachable))
        {
            if (e.Status == 504)
            {
                HttpProxyLog.OriginTimeout(Logger, destination.ToString(), e.Message);
            }
            else
            {
                HttpProxyLog.OriginUnreachable(Logger, destination.ToString(), e.Message);
            }
        }
    }

    private void LogClientDenied()
    {
        if (_proxy.Warnings.ShouldLog(WarningKind.ClientDenied))
        {
            HttpProxyLog.ClientDenied(Logger, ClientText);
        }
    }

    private void LogEnded(string reason)
    {
        if (Logger.IsEnabled(LogLevel.Debug))
        {
            HttpProxyLog.ConnectionEnded(Logger, ClientText, reason);
        }
    }
}
