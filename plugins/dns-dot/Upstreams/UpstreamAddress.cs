using System.Globalization;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>
/// An upstream's <c>address</c>, in AdGuard dnsproxy's syntax: <c>udp://192.168.1.1:53</c>, <c>tcp://…</c>,
/// <c>tls://1.1.1.1:853</c> or <c>tls://dns.example:853</c>, <c>https://dns.example/dns-query</c>, and a bare
/// <c>ip:port</c> meaning DoT (the configs written before the schemes keep their meaning). Ports default to 53
/// (udp, tcp), 853 (tls) and 443 (https); the https path to /dns-query.
/// </summary>
/// <param name="Protocol">The transport.</param>
/// <param name="Host">An IP address (without brackets) or a host name (lower case, no trailing dot).</param>
/// <param name="Port">The port.</param>
/// <param name="Path">The https path and query ("/dns-query"); "" for the other schemes.</param>
internal sealed record UpstreamAddress(UpstreamProtocol Protocol, string Host, ushort Port, string Path)
{
    /// <summary>True when <see cref="Host"/> is a name to resolve (through <c>bootstrap</c>), not an address.</summary>
    public bool HostIsName => !NetAddress.TryParse(Host, out _);

    /// <summary>The host as an address, for upstreams given by IP.</summary>
    public NetAddress Address => NetAddress.Parse(Host);

    /// <summary>True for the schemes that send plaintext (udp, tcp).</summary>
    public bool IsPlain => Protocol is UpstreamProtocol.Udp or UpstreamProtocol.Tcp;

    /// <summary>Parses an <c>address</c>; false with a one-line reason when it is not one.</summary>
    public static bool TryParse(string? text, out UpstreamAddress address, out string error)
    {
        address = null!;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "missing: the upstream's address, for example tls://1.1.1.1:853, udp://192.168.1.1:53 or https://dns.example/dns-query";
            return false;
        }

        text = text.Trim();
        int scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0)
        {
            // A bare ip:port is DoT, as before upstream URLs existed.
            if (!NetEndpoint.TryParse(text, out NetEndpoint endpoint))
            {
                error = $"'{text}' is not an ip:port such as 1.1.1.1:853 or [2606:4700::1111]:853, nor a URL such as tls://dns.example:853 or udp://192.168.1.1:53";
                return false;
            }

            address = new UpstreamAddress(UpstreamProtocol.Tls, endpoint.Address.ToString(), endpoint.Port, "");
            return true;
        }

        (UpstreamProtocol protocol, ushort defaultPort) = text[..scheme].ToLowerInvariant() switch
        {
            "udp" => (UpstreamProtocol.Udp, (ushort)53),
            "tcp" => (UpstreamProtocol.Tcp, (ushort)53),
            "tls" => (UpstreamProtocol.Tls, (ushort)853),
            "https" => (UpstreamProtocol.Https, (ushort)443),
            _ => ((UpstreamProtocol)(-1), (ushort)0),
        };
        if (defaultPort == 0)
        {
            error = $"'{text[..scheme]}://' is not an upstream scheme: use udp://, tcp://, tls:// or https:// (DNS over QUIC is not supported)";
            return false;
        }

        string rest = text[(scheme + 3)..];
        string path = "";
        int slash = rest.IndexOf('/');
        if (slash >= 0)
        {
            path = rest[slash..];
            rest = rest[..slash];
        }

        if (path.Length > 0 && protocol != UpstreamProtocol.Https)
        {
            error = $"'{text}': only https:// upstreams have a path";
            return false;
        }

        if (!TrySplitHostPort(rest, defaultPort, out string host, out ushort port))
        {
            error = $"'{text}': '{rest}' is not a host name or IP address with an optional :port";
            return false;
        }

        address = new UpstreamAddress(protocol, host, port, protocol == UpstreamProtocol.Https ? (path.Length == 0 ? "/dns-query" : path) : "");
        return true;
    }

    /// <summary>The https request URI, with <paramref name="tlsName"/> as its host (it is both SNI and Host:).</summary>
    public Uri RequestUri(string tlsName) =>
        new($"https://{(tlsName.Contains(':') ? $"[{tlsName}]" : tlsName)}{(Port == 443 ? "" : ":" + Port.ToString(CultureInfo.InvariantCulture))}{Path}");

    /// <inheritdoc/>
    public override string ToString() => Protocol switch
    {
        UpstreamProtocol.Https => $"https://{HostText}{(Port == 443 ? "" : ":" + Port.ToString(CultureInfo.InvariantCulture))}{Path}",
        _ => $"{Protocol.ToString().ToLowerInvariant()}://{HostText}:{Port.ToString(CultureInfo.InvariantCulture)}",
    };

    private string HostText => Host.Contains(':') ? $"[{Host}]" : Host;

    private static bool TrySplitHostPort(string text, ushort defaultPort, out string host, out ushort port)
    {
        host = "";
        port = defaultPort;
        if (text.Length == 0)
        {
            return false;
        }

        string portText = "";
        if (text[0] == '[')
        {
            int close = text.IndexOf(']');
            if (close < 0)
            {
                return false;
            }

            host = text[1..close];
            string after = text[(close + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':')
                {
                    return false;
                }

                portText = after[1..];
            }

            if (!NetAddress.TryParse(host, out NetAddress v6) || !v6.IsV6)
            {
                return false;
            }
        }
        else
        {
            int colon = text.LastIndexOf(':');
            if (colon >= 0 && text.IndexOf(':') != colon)
            {
                // An IPv6 address must be in brackets when a port may follow.
                return false;
            }

            host = colon < 0 ? text : text[..colon];
            portText = colon < 0 ? "" : text[(colon + 1)..];
            if (!NetAddress.TryParse(host, out _) && !IsHostName(host))
            {
                return false;
            }

            host = host.TrimEnd('.').ToLowerInvariant();
        }

        if (portText.Length > 0 && (!ushort.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port == 0))
        {
            return false;
        }

        return true;
    }

    private static bool IsHostName(string name)
    {
        Span<byte> wire = stackalloc byte[Wire.DnsConstants.MaxNameLength + 2];
        return name.Length > 0 && Wire.DnsQueryWriter.EncodeName(name, wire) > 0 && !name.All(c => char.IsAsciiDigit(c) || c == '.');
    }
}
