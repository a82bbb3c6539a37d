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
        client = HostAddresses.Unmap(client);
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

    /// <summary>
    /// Whether a CONNECT tunnel may go to <paramref name="port"/>. The <c>connectPorts</c> list binds remote
    /// clients only: a local client (see <see cref="IsLocalClient"/>) may tunnel to any port, because it
    /// could open that connection itself without the proxy.
    /// </summary>
    public bool IsConnectPortAllowed(int port, bool localClient) => localClient || Array.IndexOf(_connectPorts, port) >= 0;

    /// <summary>
    /// True for a client on this host: its source address is one of this host's own (loopback, or an interface
    /// address such as the TUN's when an application here reaches a virtual endpoint). Where the connection came
    /// in does not decide it: with IP forwarding on, a remote host's packets arrive through the TUN too (issue #13).
    /// </summary>
    public static bool IsLocalClient(NetAddress client, HostAddresses host) => host.Contains(client);
}
