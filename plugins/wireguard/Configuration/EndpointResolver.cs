using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.WireGuard.Configuration;

/// <summary>
/// Peer endpoints given as "host:port": the name is resolved once, when the configuration is applied (start-up,
/// or a UAPI set), the way wg(8) resolves it once when it configures the interface. The first address the
/// system resolver returns is used; after that the endpoint follows the peer's authenticated packets (roaming),
/// never the name again.
/// </summary>
internal static class EndpointResolver
{
    /// <summary>Splits "host:port" where host is a DNS name (letters, digits, '-', '.'; labels of 1–63 characters).</summary>
    public static bool TryParseHostPort(string text, out string host, out ushort port)
    {
        host = "";
        port = 0;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon != text.IndexOf(':') ||
            !ushort.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port == 0)
        {
            return false;
        }

        string name = text[..colon].TrimEnd('.');
        if (name.Length is 0 or > 253)
        {
            return false;
        }

        foreach (string label in name.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }

            foreach (char c in label)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '-')
                {
                    return false;
                }
            }
        }

        host = name;
        return true;
    }

    /// <summary>
    /// Parses "ip:port", "[ipv6]:port" or "host:port" (resolving the name now). Returns false with
    /// <paramref name="error"/> when it is neither, or the name does not resolve.
    /// </summary>
    public static bool TryResolve(string text, out NetEndpoint endpoint, out string error)
    {
        error = "";
        if (NetEndpoint.TryParse(text, out endpoint))
        {
            return true;
        }

        if (!TryParseHostPort(text, out string host, out ushort port))
        {
            error = $"'{text}' is not ip:port, [ipv6]:port or host:port";
            return false;
        }

        try
        {
            IPAddress[] addresses = Dns.GetHostAddresses(host);
            foreach (IPAddress address in addresses)
            {
                if (address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
                {
                    endpoint = NetEndpoint.FromIPEndPoint(new IPEndPoint(address, port));
                    return true;
                }
            }

            error = $"host name '{host}' has no IPv4 or IPv6 address";
        }
        catch (SocketException ex)
        {
            error = $"host name '{host}' could not be resolved ({ex.SocketErrorCode})";
        }

        return false;
    }
}
