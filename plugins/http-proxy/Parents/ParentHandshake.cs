using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Origins;
using Gateway.Plugins.HttpProxy.Socks;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Plugins.HttpProxy.Parents;

/// <summary>
/// Asks a parent proxy for a tunnel to host:port on a connection to it: <c>CONNECT host:port</c> to an HTTP parent
/// (RFC 9110 §9.3.6; any 2xx opens it), an RFC 1928 CONNECT to a SOCKS5 parent with the name as ATYP 3, so the
/// parent resolves it (and RFC 1929 username/password when the URL has credentials).
/// </summary>
internal static class ParentHandshake
{
    // Larger CONNECT answers than this are refused: a parent's 2xx head is a few hundred bytes.
    private const int MaxAnswerHead = 16 * 1024;

    // Header fields read from that answer (its fields are ignored; more than this is not a CONNECT answer).
    private const int MaxAnswerFields = 64;

    /// <summary>Opens the tunnel; bytes the parent sent after its answer stay in <paramref name="reader"/>.</summary>
    /// <exception cref="OriginException">502 when the parent refused or broke off; 504 when it did not answer in time.</exception>
    public static async ValueTask OpenAsync(ParentProxy parent, Socket socket, SocketReader reader, string host, int port, CancellationToken deadline,
        CancellationToken stopping)
    {
        try
        {
            if (parent.Url.Protocol == ParentProtocol.Http)
            {
                await HttpConnectAsync(parent, socket, reader, host, port, deadline).ConfigureAwait(false);
            }
            else
            {
                await Socks5ConnectAsync(parent, socket, reader, host, port, deadline).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            throw new OriginException(504, $"parent proxy {parent.Name} did not open the tunnel in time", error: SocketError.TimedOut);
        }
        catch (SocketException e)
        {
            throw new OriginException(502, $"parent proxy {parent.Name} broke off the tunnel request: {e.SocketErrorCode}");
        }
    }

    /// <summary>The CONNECT request sent to an HTTP parent (with its Proxy-Authorization when it has credentials).</summary>
    public static byte[] ConnectRequest(ParentProxy parent, string host, int port)
    {
        string authority = host.Contains(':') ? $"[{host}]:{port}" : $"{host}:{port}";
        byte[] start = Encoding.ASCII.GetBytes($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        ReadOnlySpan<byte> authorization = parent.AuthorizationLine.Span;
        byte[] request = new byte[start.Length + authorization.Length + 2];
        start.CopyTo(request, 0);
        authorization.CopyTo(request.AsSpan(start.Length));
        "\r\n"u8.CopyTo(request.AsSpan(start.Length + authorization.Length));
        return request;
    }

    private static async ValueTask HttpConnectAsync(ParentProxy parent, Socket socket, SocketReader reader, string host, int port, CancellationToken cancellationToken)
    {
        await SendAsync(socket, ConnectRequest(parent, host, port), cancellationToken).ConfigureAwait(false);
        int end;
        while ((end = HttpHeadParser.FindHeadEnd(reader.Buffered, 0)) < 0)
        {
            if (reader.Count >= MaxAnswerHead || reader.IsFull || await reader.FillAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                throw new OriginException(502, $"parent proxy {parent.Name} closed the connection without answering the CONNECT");
            }
        }

        // The answer goes through the proxy's own (fuzzed) response parser; any 2xx opens the tunnel (RFC 9110 §9.3.6).
        ReadOnlySpan<byte> head = reader.Buffered[..end];
        HttpParseError error = HttpHeadParser.ParseResponse(head, new HeaderField[MaxAnswerFields], out ResponseHead response);
        if (error != HttpParseError.None || response.Status is < 200 or > 299)
        {
            ReadOnlySpan<byte> statusLine = head[..head.IndexOf("\r\n"u8)];
            string line = Encoding.ASCII.GetString(statusLine.Length > 100 ? statusLine[..100] : statusLine);
            string hint = error == HttpParseError.None && response.Status == 407 ? " (check the credentials in parents[].proxy)" : string.Empty;
            throw new OriginException(502, $"parent proxy {parent.Name} refused the tunnel: {line}{hint}");
        }

        reader.Consume(end);
    }

    private static async ValueTask Socks5ConnectAsync(ParentProxy parent, Socket socket, SocketReader reader, string host, int port, CancellationToken cancellationToken)
    {
        bool credentials = parent.Url.User is not null;
        // RFC 1928 §3: VER NMETHODS METHODS; with credentials both methods are offered and the parent picks.
        await SendAsync(socket, credentials ? new byte[] { 5, 2, 0, 2 } : new byte[] { 5, 1, 0 }, cancellationToken).ConfigureAwait(false);
        await NeedAsync(parent, reader, 2, cancellationToken).ConfigureAwait(false);
        byte version = reader.Buffered[0];
        byte method = reader.Buffered[1];
        reader.Consume(2);
        if (version != 5 || (method != 0 && !(method == 2 && credentials)))
        {
            throw new OriginException(502, method == 0xFF
                ? $"parent proxy {parent.Name} accepts none of the SOCKS5 methods offered{(credentials ? string.Empty : " (does it need credentials?)")}"
                : $"parent proxy {parent.Name} answered the SOCKS5 greeting with version {version} method {method}");
        }

        if (method == 2)
        {
            // RFC 1929 §2: VER=1 ULEN UNAME PLEN PASSWD, answered VER STATUS (0 success).
            byte[] user = Encoding.UTF8.GetBytes(parent.Url.User!);
            byte[] password = Encoding.UTF8.GetBytes(parent.Url.Password ?? string.Empty);
            byte[] login = new byte[3 + user.Length + password.Length];
            login[0] = 1;
            login[1] = (byte)user.Length;
            user.CopyTo(login, 2);
            login[2 + user.Length] = (byte)password.Length;
            password.CopyTo(login, 3 + user.Length);
            await SendAsync(socket, login, cancellationToken).ConfigureAwait(false);
            await NeedAsync(parent, reader, 2, cancellationToken).ConfigureAwait(false);
            bool accepted = reader.Buffered[1] == 0;
            reader.Consume(2);
            if (!accepted)
            {
                throw new OriginException(502, $"parent proxy {parent.Name} refused the user name and password (check the credentials in parents[].proxy)");
            }
        }

        await SendAsync(socket, ConnectRequest(host, port), cancellationToken).ConfigureAwait(false);
        // VER REP RSV ATYP BND.ADDR BND.PORT (RFC 1928 §6).
        await NeedAsync(parent, reader, 5, cancellationToken).ConfigureAwait(false);
        byte reply = reader.Buffered[1];
        int length = reader.Buffered[3] switch
        {
            SocksAddress.IPv4 => 4 + 4 + 2,
            SocksAddress.IPv6 => 4 + 16 + 2,
            SocksAddress.DomainName => 4 + 1 + reader.Buffered[4] + 2,
            _ => -1,
        };
        if (reader.Buffered[0] != 5 || length < 0)
        {
            throw new OriginException(502, $"parent proxy {parent.Name} sent a malformed SOCKS5 reply");
        }

        await NeedAsync(parent, reader, length, cancellationToken).ConfigureAwait(false);
        reader.Consume(length);
        if (reply != (byte)SocksReply.Succeeded)
        {
            // The parent's reply code says what went wrong beyond it; a SOCKS client of ours gets the same code.
            throw new OriginException(502, $"parent proxy {parent.Name} could not connect: SOCKS5 reply {reply}", error: ErrorFor((SocksReply)reply));
        }
    }

    /// <summary>VER=5 CMD=1 RSV ATYP DST.ADDR DST.PORT: a name as ATYP 3 (the parent resolves it), an IP literal as ATYP 1 or 4.</summary>
    public static byte[] ConnectRequest(string host, int port)
    {
        byte[] request = new byte[3 + 1 + 1 + 255 + 2];
        request[0] = 5;
        request[1] = 1;
        request[2] = 0;
        int length;
        if (IPAddress.TryParse(host, out IPAddress? address))
        {
            length = SocksAddress.Write(request.AsSpan(3), address, port);
        }
        else
        {
            int nameLength = Encoding.ASCII.GetBytes(host, request.AsSpan(5));
            request[3] = SocksAddress.DomainName;
            request[4] = (byte)nameLength;
            BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(5 + nameLength), (ushort)port);
            length = 2 + nameLength + 2;
        }

        return request[..(3 + length)];
    }

    private static SocketError ErrorFor(SocksReply reply) => reply switch
    {
        SocksReply.ConnectionRefused => SocketError.ConnectionRefused,
        SocksReply.NetworkUnreachable => SocketError.NetworkUnreachable,
        SocksReply.HostUnreachable => SocketError.HostUnreachable,
        SocksReply.TtlExpired => SocketError.TimedOut,
        _ => SocketError.SocketError,
    };

    private static async ValueTask NeedAsync(ParentProxy parent, SocketReader reader, int count, CancellationToken cancellationToken)
    {
        while (reader.Count < count)
        {
            if (await reader.FillAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                throw new OriginException(502, $"parent proxy {parent.Name} closed the connection during the SOCKS5 handshake");
            }
        }
    }

    private static async ValueTask SendAsync(Socket socket, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        while (!bytes.IsEmpty)
        {
            int sent = await socket.SendAsync(bytes, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            bytes = bytes[sent..];
        }
    }
}
