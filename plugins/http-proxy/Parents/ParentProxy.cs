using System.Net;
using System.Text;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Parents;

/// <summary>One configured parent proxy: where it is, how to speak to it, which destinations it serves, whether it is up.</summary>
internal sealed class ParentProxy
{
    private static readonly System.Buffers.SearchValues<char> DigitsAndDots = System.Buffers.SearchValues.Create("0123456789.");

    private readonly string[] _domains;
    private readonly IpPrefix[] _networks;

    public ParentProxy(ParentProxyOptions options, ParentHealth health)
    {
        Url = options.Url ?? throw new ArgumentException("the options reader sets Url", nameof(options));
        Name = Url.ToString();
        Health = health;
        _domains = [.. options.Domains];
        _networks = [.. options.Networks];
        Address = IPAddress.TryParse(Url.Endpoint.Host, out IPAddress? literal) ? literal : null;
        if (Url.User is not null && Url.Protocol == ParentProtocol.Http)
        {
            // RFC 7617 §2: base64 of user-id ":" password, UTF-8 (the charset squid and tinyproxy accept).
            string token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Url.User}:{Url.Password}"));
            AuthorizationLine = Encoding.ASCII.GetBytes($"Proxy-Authorization: Basic {token}\r\n");
        }
    }

    public ParentProxyUrl Url { get; }

    /// <summary>"http://host:port" (no credentials): the name in logs, metrics and error bodies.</summary>
    public string Name { get; }

    /// <summary>"host:port" of the parent: the access log's hierarchy peer.</summary>
    public string HostPort => Url.Endpoint.ToString();

    public ParentHealth Health { get; }

    /// <summary>The parent's address when it is written as one (no lookup needed); null for a name.</summary>
    public IPAddress? Address { get; }

    /// <summary>"Proxy-Authorization: Basic ...\r\n" for an HTTP parent with credentials; empty otherwise.</summary>
    public ReadOnlyMemory<byte> AuthorizationLine { get; }

    /// <summary>True when the entry lists neither domains nor networks: it serves every destination.</summary>
    public bool MatchesAll => _domains.Length == 0 && _networks.Length == 0;

    public bool HasNetworks => _networks.Length > 0;

    /// <summary>The name is one of <c>domains</c> or below one (dstdomain semantics); a trailing dot is ignored.</summary>
    public bool MatchesName(ReadOnlySpan<char> host)
    {
        if (MatchesAll)
        {
            return true;
        }

        if (host.EndsWith('.'))
        {
            host = host[..^1];
        }

        if (host.IsEmpty || host.Contains(':') || !host.ContainsAnyExcept(DigitsAndDots))
        {
            // An IP literal is matched by networks only ("10.0.0.1" is not below a domain "0.1").
            return false;
        }

        foreach (string domain in _domains)
        {
            if (host.Length == domain.Length ? host.Equals(domain, StringComparison.OrdinalIgnoreCase)
                : host.Length > domain.Length && host[^(domain.Length + 1)] == '.' && host[^domain.Length..].Equals(domain, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>One of <paramref name="addresses"/> is in <c>networks</c>.</summary>
    public bool MatchesAddresses(IPAddress[]? addresses)
    {
        if (addresses is null)
        {
            return false;
        }

        foreach (IPAddress address in addresses)
        {
            NetAddress net = HostAddresses.Unmap(NetAddress.FromIPAddress(address));
            foreach (IpPrefix network in _networks)
            {
                if (network.Contains(net))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>The origin pool key of connections to <paramref name="originKey"/> through this parent: never mixed with direct ones.</summary>
    public string PoolKey(string originKey) => $"{originKey} via {Name}";
}
