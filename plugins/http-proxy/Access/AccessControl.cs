using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Access;

/// <summary>Who may use the proxy and which destination ports it may reach.</summary>
internal sealed class AccessControl
{
    private readonly IpPrefix[] _allow;
    private readonly IpPrefix[] _deny;
    private readonly int[] _allowedPorts;
    private readonly int[] _connectPorts;

    public AccessControl(HttpProxyOptions options)
    {
        _allow = [.. options.AllowClients];
        _deny = [.. options.DenyClients];
        _allowedPorts = [.. options.AllowedPorts];
        _connectPorts = [.. options.ConnectPorts];
    }

    /// <summary>Deny wins over allow; an address matching no allow prefix is refused.</summary>
    public bool IsClientAllowed(NetAddress client)
    {
        // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
        client = Unmap(client);
        foreach (IpPrefix prefix in _deny)
        {
            if (prefix.Contains(client))
            {
                return false;
            }
        }

        foreach (IpPrefix prefix in _allow)
        {
            if (prefix.Contains(client))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether a plain http:// request may go to <paramref name="port"/> (an empty list allows all).</summary>
    public bool IsPortAllowed(int port) => _allowedPorts.Length == 0 || Array.IndexOf(_allowedPorts, port) >= 0;

    /// <summary>Whether a CONNECT tunnel may go to <paramref name="port"/>.</summary>
    public bool IsConnectPortAllowed(int port) => Array.IndexOf(_connectPorts, port) >= 0;

    private static NetAddress Unmap(NetAddress address)
    {
        const ulong MappedPrefix = 0xFFFF;
        if (address.IsV6 && (address.Value >> 32) == MappedPrefix)
        {
            return NetAddress.FromV4((uint)address.Value);
        }

        return address;
    }
}
