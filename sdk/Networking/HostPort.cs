using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Gateway.Sdk.Networking;

/// <summary>
/// A host and a port as written in configuration: "example.test:443", "10.0.0.5:80", "[fd00::5]:80". The host is a
/// DNS name or an IP literal; a name is resolved only when connecting (<see cref="ResolveAsync"/>,
/// <see cref="ConnectAsync"/>) through the resolver given, normally <see cref="Plugins.IPluginContext.NameResolver"/>,
/// so names go through the gateway's DNS plugin rather than leaking to the system resolver.
/// </summary>
/// <param name="Host">A lower-case DNS name without a trailing dot, or an IP literal (IPv6 without brackets).</param>
/// <param name="Port">The port, 1–65535.</param>
public readonly record struct HostPort(string Host, ushort Port)
{
    /// <summary>True when <see cref="Host"/> is an IP literal (no resolution needed).</summary>
    public bool IsAddress => NetAddress.TryParse(Host, out _);

    /// <summary>
    /// Parses "name:port", "ipv4:port" or "[ipv6]:port". Names must be valid DNS host names (RFC 1123 letters, digits,
    /// '-' and '_' in labels of 1–63 characters, at most 253 in all; a trailing dot is dropped). The port is required.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out HostPort hostPort)
    {
        hostPort = default;
        text = text.Trim();
        if (NetEndpoint.TryParse(text, out NetEndpoint endpoint))
        {
            hostPort = new HostPort(endpoint.Address.ToString(), endpoint.Port);
            return true;
        }

        int colon = text.LastIndexOf(':');
        if (colon <= 0 || text[..colon].Contains(':') || text[0] == '[' ||
            !ushort.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out ushort port) || port == 0)
        {
            return false;
        }

        ReadOnlySpan<char> host = text[..colon];
        if (host[^1] == '.')
        {
            host = host[..^1];
        }

        if (!IsHostName(host))
        {
            return false;
        }

        hostPort = new HostPort(host.ToString().ToLowerInvariant(), port);
        return true;
    }

    /// <summary>Parses like <see cref="TryParse"/>.</summary>
    /// <exception cref="FormatException">The text is not host:port.</exception>
    public static HostPort Parse(string text) =>
        TryParse(text, out HostPort hostPort)
            ? hostPort
            : throw new FormatException($"'{text}' is not a host:port (a DNS name or an IP address, IPv6 as [addr]:port; port 1-65535)");

    /// <summary>
    /// The endpoints of this host: the literal itself, or every address <paramref name="resolver"/> returns for the
    /// name, in its order.
    /// </summary>
    /// <exception cref="SocketException">The name does not exist or could not be resolved (see <see cref="INameResolver"/>).</exception>
    public async ValueTask<IReadOnlyList<NetEndpoint>> ResolveAsync(INameResolver resolver, CancellationToken cancellationToken, AddressFamily family = AddressFamily.Unspecified)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        if (NetAddress.TryParse(Host, out NetAddress literal))
        {
            return [new NetEndpoint(literal, Port)];
        }

        IReadOnlyList<IPAddress> addresses = await resolver.ResolveAsync(Host, family, cancellationToken).ConfigureAwait(false);
        var endpoints = new NetEndpoint[addresses.Count];
        for (int i = 0; i < endpoints.Length; i++)
        {
            endpoints[i] = new NetEndpoint(NetAddress.FromIPAddress(addresses[i]), Port);
        }

        if (endpoints.Length == 0)
        {
            throw new SocketException((int)SocketError.NoData);
        }

        return endpoints;
    }

    /// <summary>
    /// Opens a TCP connection: resolves the host through <paramref name="resolver"/>, then tries each address in turn
    /// (each attempt bounded by <paramref name="connectTimeout"/>) until one accepts.
    /// </summary>
    /// <param name="resolver">Normally <see cref="Plugins.IPluginContext.NameResolver"/>.</param>
    /// <param name="connectTimeout">Time allowed per address.</param>
    /// <param name="prepare">
    /// Called on each socket before it connects, typically <see cref="Plugins.IPluginContext.ProtectSocket"/> so that
    /// the connection cannot loop into the gateway's own TUN; null for nothing.
    /// </param>
    /// <param name="cancellationToken">Cancels the whole attempt.</param>
    /// <returns>The connected socket (NoDelay set); the caller owns it.</returns>
    /// <exception cref="SocketException">No address accepted (the last attempt's error, <see cref="SocketError.TimedOut"/> for a timeout).</exception>
    public async Task<Socket> ConnectAsync(INameResolver resolver, TimeSpan connectTimeout, Action<Socket>? prepare, CancellationToken cancellationToken)
    {
        IReadOnlyList<NetEndpoint> endpoints = await ResolveAsync(resolver, cancellationToken).ConfigureAwait(false);
        SocketException? last = null;
        foreach (NetEndpoint endpoint in endpoints)
        {
            IPEndPoint target = endpoint.ToIPEndPoint();
            var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(connectTimeout);
            try
            {
                prepare?.Invoke(socket);
                await socket.ConnectAsync(target, attempt.Token).ConfigureAwait(false);
                return socket;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                last = new SocketException((int)SocketError.TimedOut);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    /// <inheritdoc/>
    public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    private static bool IsHostName(ReadOnlySpan<char> host)
    {
        if (host.Length is 0 or > 253)
        {
            return false;
        }

        foreach (Range range in host.Split('.'))
        {
            ReadOnlySpan<char> label = host[range];
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }

            foreach (char c in label)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '-' && c != '_')
                {
                    return false;
                }
            }
        }

        // An all-numeric last label would be a malformed IPv4 literal ("1.2.3"), not a name.
        int lastDot = host.LastIndexOf('.');
        return !ulong.TryParse(host[(lastDot + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out _);
    }
}
