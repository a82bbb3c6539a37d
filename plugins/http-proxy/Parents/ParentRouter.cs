using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.HttpProxy.Access;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Origins;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.HttpProxy.Parents;

/// <summary>
/// Which parent proxies a destination goes through (issue 18, squid's <c>cache_peer</c> + <c>never_direct</c>): the
/// entries of <c>parents:</c> that match it, in order, skipping those in their back-off. Built with each generation of
/// rules; the parents' health is shared by all of them. HTTP requests (<see cref="OriginLease"/>), CONNECT tunnels and
/// SOCKS CONNECTs all route here.
/// </summary>
/// <remarks>
/// The destination policy: the parent's own address is not held to <c>denyDestinations</c> (the operator configured it,
/// and a parent on this host is common); the destination is checked where the gateway knows its address — an IP literal,
/// or a name it resolved to match <c>networks</c>. A name sent to a parent unresolved is the parent's to check, as squid
/// checks <c>dst</c> ACLs only where it resolves.
/// </remarks>
internal sealed class ParentRouter
{
    private readonly ParentProxy[] _parents;
    private readonly bool _hasNetworks;
    private readonly OriginConnector _connector;
    private readonly HttpProxyMetrics _metrics;
    private readonly ILogger _logger;
    private readonly WarningLimiter _warnings;

    /// <param name="health">The parents' health by name, shared by every generation of rules (entries are added here).</param>
    public ParentRouter(IReadOnlyList<ParentProxyOptions> parents, bool neverDirect, ConcurrentDictionary<string, ParentHealth> health, OriginConnector connector,
        HttpProxyMetrics metrics, ILogger logger, WarningLimiter warnings)
    {
        _parents = new ParentProxy[parents.Count];
        for (int i = 0; i < parents.Count; i++)
        {
            ParentProxyOptions options = parents[i];
            _parents[i] = new ParentProxy(options, health.GetOrAdd(options.Url!.ToString(), static _ => new ParentHealth()));
            _hasNetworks |= _parents[i].HasNetworks;
        }

        NeverDirect = neverDirect;
        _connector = connector;
        _metrics = metrics;
        _logger = logger;
        _warnings = warnings;
    }

    /// <summary>True when no parent is configured: everything goes direct, and nothing here costs a request anything.</summary>
    public bool IsEmpty => _parents.Length == 0;

    /// <summary><c>neverDirect</c>: a destination that matches parents none of which could be reached gets 502.</summary>
    public bool NeverDirect { get; }

    public ParentProxy this[int index] => _parents[index];

    /// <summary>
    /// True when only the addresses of <paramref name="host"/> can tell whether a parent serves it: no entry matches the
    /// name and some entry has <c>networks</c>. The caller resolves it then (it would for a direct connection anyway).
    /// </summary>
    public bool NeedsAddresses(ReadOnlySpan<char> host)
    {
        if (!_hasNetworks || IPAddress.TryParse(host, out _))
        {
            return false;
        }

        foreach (ParentProxy parent in _parents)
        {
            if (parent.MatchesName(host))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The index of the first parent from <paramref name="from"/> on that serves the destination and is up, or -1.
    /// <paramref name="addresses"/>: the destination's addresses when known (an IP literal, or resolved).
    /// </summary>
    public int Next(int from, ReadOnlySpan<char> host, IPAddress[]? addresses)
    {
        for (int i = from; i < _parents.Length; i++)
        {
            if (Matches(_parents[i], host, addresses) && _parents[i].Health.IsLive)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>True when some parent serves the destination, up or not.</summary>
    public bool AnyMatch(ReadOnlySpan<char> host, IPAddress[]? addresses)
    {
        foreach (ParentProxy parent in _parents)
        {
            if (Matches(parent, host, addresses))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The destination goes to a parent: the addresses the gateway knows for it (IP literal or resolved) are checked
    /// against the client's policy, since the parent would connect there on our behalf.
    /// </summary>
    /// <exception cref="OriginException">403 when the policy refuses one of them.</exception>
    public static void CheckDestination(IPAddress[]? addresses, DestinationPolicy? policy)
    {
        if (policy is null || addresses is null)
        {
            return;
        }

        foreach (IPAddress address in addresses)
        {
            if (!policy.IsAllowed(NetAddress.FromIPAddress(address), out string rule))
            {
                throw new OriginException(403, $"this proxy does not connect there ({rule}; denyDestinations)", rule);
            }
        }
    }

    /// <summary>
    /// Connects to <paramref name="parent"/> (its address is not held to the destination policy: the operator chose it).
    /// Null when it refused or was unreachable: it is marked down and the caller tries the next.
    /// </summary>
    /// <exception cref="OriginException">504 when connecting timed out (the parent is marked down; the deadline is spent).</exception>
    public async ValueTask<(Socket Socket, NetAddress Address)?> ConnectAsync(ParentProxy parent, CancellationTokenSource deadline, CancellationToken stopping)
    {
        try
        {
            IPAddress[] addresses = parent.Address is { } literal ? [literal] : await _connector.ResolveAsync(parent.Url.Endpoint.Host, deadline.Token).ConfigureAwait(false);
            (Socket socket, NetAddress address) = await _connector.ConnectAsync(addresses, parent.Url.Endpoint.Port, policy: null, deadline, stopping).ConfigureAwait(false);
            _metrics.ParentConnection(parent.Name, succeeded: true);
            if (parent.Health.Succeeded())
            {
                HttpProxyLog.ParentUp(_logger, parent.Name);
            }

            return (socket, address);
        }
        catch (OriginException e)
        {
            _metrics.ParentConnection(parent.Name, succeeded: false);
            TimeSpan backOff = parent.Health.Failed();
            HttpProxyLog.ParentDown(_logger, parent.Name, e.Message, backOff.TotalSeconds);
            if (e.Status == 504)
            {
                throw new OriginException(504, $"parent proxy {parent.Name}: {e.Message}", error: SocketError.TimedOut);
            }

            return null;
        }
    }

    /// <summary>
    /// A tunnel to <paramref name="host"/>:<paramref name="port"/> through the first parent that serves it and answers
    /// (CONNECT to an HTTP parent, RFC 1928 CONNECT to a SOCKS5 one); null when no parent serves it, or none could be
    /// reached and direct connections are allowed.
    /// </summary>
    /// <param name="addresses">The destination's addresses when known (an IP literal, or resolved for a <c>networks</c> match).</param>
    /// <exception cref="OriginException">403 (policy), 502 (a parent refused the tunnel, or neverDirect and none up), 504.</exception>
    public async ValueTask<OriginTunnel?> TunnelAsync(string host, int port, IPAddress[]? addresses, DestinationPolicy? policy, int bufferSize,
        CancellationTokenSource deadline, CancellationToken stopping)
    {
        if (!AnyMatch(host, addresses))
        {
            return null;
        }

        CheckDestination(addresses, policy);
        for (int i = Next(0, host, addresses); i >= 0; i = Next(i + 1, host, addresses))
        {
            ParentProxy parent = _parents[i];
            if (await ConnectAsync(parent, deadline, stopping).ConfigureAwait(false) is not (Socket socket, _))
            {
                continue;
            }

            var tunnel = new OriginTunnel(socket, new SocketReader(socket, bufferSize), parent);
            try
            {
                await ParentHandshake.OpenAsync(parent, socket, tunnel.Reader, host, port, deadline.Token, stopping).ConfigureAwait(false);
                return tunnel;
            }
            catch
            {
                tunnel.Dispose();
                throw;
            }
        }

        return NoParentUp(host, port);
    }

    /// <summary>Every parent serving the destination is down or failed: null (go direct), or 502 under neverDirect.</summary>
    /// <exception cref="OriginException">502 under neverDirect.</exception>
    public OriginTunnel? NoParentUp(string host, int port)
    {
        _metrics.NoParentUp(NeverDirect);
        if (_warnings.ShouldLog(WarningKind.NoParentUp))
        {
            HttpProxyLog.NoParentUp(_logger, $"{host}:{port}", NeverDirect ? "answered 502 (neverDirect)" : "connecting directly");
        }

        return NeverDirect ? throw new OriginException(502, "no parent proxy for this destination is up (neverDirect)") : null;
    }

    private static bool Matches(ParentProxy parent, ReadOnlySpan<char> host, IPAddress[]? addresses) =>
        parent.MatchesName(host) || parent.MatchesAddresses(addresses);
}
