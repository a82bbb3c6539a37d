using System.Diagnostics;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Server;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Security;

/// <summary>
/// Client admission for every transport and endpoint (UDP, TCP, DoT, DoH; host sockets and the TUN): the ACL,
/// the per-network rate limit, the per-client connection cap, and the limits on what one connection may hold
/// (write timeout, buffered answer bytes). One per running plugin; a reload swaps its policy with one reference
/// write (<see cref="Apply"/>), keeping the rate limiter's buckets when <c>rateLimit</c> is unchanged and the
/// connection counts always.
/// </summary>
internal sealed class ClientGate
{
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(10);

    private readonly ServingMetrics _metrics;
    private readonly ILogger _logger;
    private readonly IReadOnlyList<IpPrefix> _tunNetworks;
    private readonly ClientConnectionCounter _connections = new();
    private readonly LogThrottle _refusedLog = new(LogInterval);
    private readonly LogThrottle _limitedLog = new(LogInterval);
    private readonly LogThrottle _connectionLog = new(LogInterval);
    private Policy _policy;

    /// <summary>Creates the gate for <paramref name="options"/>; <paramref name="tunNetworks"/> join the default ACL.</summary>
    public ClientGate(DnsDotOptions options, IReadOnlyList<IpPrefix> tunNetworks, ServingMetrics metrics, ILogger logger)
    {
        _metrics = metrics;
        _logger = logger;
        _tunNetworks = tunNetworks;
        _policy = Build(options, null);
    }

    /// <summary>The ACL in effect.</summary>
    public ClientAcl Acl => Volatile.Read(ref _policy).Acl;

    /// <summary>The rate limiter in effect, or null when <c>rateLimit.qps</c> is 0.</summary>
    public ClientRateLimiter? RateLimiter => Volatile.Read(ref _policy).Limiter;

    /// <summary><c>clientWriteTimeoutMs</c>.</summary>
    public TimeSpan WriteTimeout => Volatile.Read(ref _policy).WriteTimeout;

    /// <summary><c>maxBufferedAnswerBytes</c>.</summary>
    public int MaxBufferedAnswerBytes => Volatile.Read(ref _policy).MaxBufferedAnswerBytes;

    /// <summary>Connections open now (TCP, DoT, DoH), all clients together.</summary>
    public int OpenConnections => _connections.Total;

    /// <summary>The plugin's serving instruments.</summary>
    public ServingMetrics Metrics => _metrics;

    /// <summary>A reload: the new lists and limits apply to queries and connections from now on.</summary>
    public void Apply(DnsDotOptions options) => Volatile.Write(ref _policy, Build(options, Volatile.Read(ref _policy)));

    /// <summary>
    /// Decides about one query from <paramref name="client"/> (allocation-free): the ACL first, then the rate limit.
    /// Refusals and limits are counted, and logged at most once per 10 s each.
    /// </summary>
    public AdmissionResult Admit(NetAddress client, DnsTransport transport)
    {
        Policy policy = Volatile.Read(ref _policy);
        if (!policy.Acl.IsAllowed(client))
        {
            _metrics.Refused.Add(1);
            if (_refusedLog.TryEnter(out long suppressed))
            {
                DnsDotLog.ClientRefused(_logger, client.ToString(), suppressed);
            }

            return AdmissionResult.NotAllowed;
        }

        if (policy.Limiter is not { } limiter)
        {
            return AdmissionResult.Allow;
        }

        AdmissionResult result = limiter.Take(client, transport == DnsTransport.Udp, Stopwatch.GetTimestamp());
        if (result != AdmissionResult.Allow)
        {
            _metrics.CountLimited(result);
            if (_limitedLog.TryEnter(out long suppressed))
            {
                DnsDotLog.ClientRateLimited(_logger, client.ToString(), limiter.Options.Qps, suppressed);
            }
        }

        return result;
    }

    /// <summary>
    /// Counts a new connection from <paramref name="client"/>; false (counted, logged at a bounded rate) when it
    /// already holds <c>maxConnectionsPerClient</c>: close it at once. Pair a true with <see cref="CloseConnection"/>.
    /// </summary>
    public bool TryOpenConnection(NetAddress client)
    {
        int cap = Volatile.Read(ref _policy).MaxConnectionsPerClient;
        if (_connections.TryEnter(client, cap))
        {
            return true;
        }

        _metrics.ConnectionsRejected.Add(1);
        if (_connectionLog.TryEnter(out long suppressed))
        {
            DnsDotLog.ClientConnectionCapped(_logger, client.ToString(), cap, suppressed);
        }

        return false;
    }

    /// <summary>A connection counted by <see cref="TryOpenConnection"/> ended.</summary>
    public void CloseConnection(NetAddress client) => _connections.Leave(client);

    /// <summary>A connection was closed for holding resources (<paramref name="reason"/>: write_timeout, buffer_cap or slow_query).</summary>
    public void ConnectionAborted(NetAddress client, string reason)
    {
        _metrics.ConnectionsAborted.Add(1, new KeyValuePair<string, object?>("reason", reason));
        if (_connectionLog.TryEnter(out long suppressed))
        {
            DnsDotLog.ClientConnectionAborted(_logger, client.ToString(), reason, suppressed);
        }
    }

    private Policy Build(DnsDotOptions options, Policy? previous)
    {
        ClientAcl acl = ClientAcl.Create(options.AllowClients, options.DenyClients, _tunNetworks);
        ClientRateLimiter? limiter = null;
        if (options.RateLimit.Qps > 0)
        {
            limiter = previous?.Limiter is { } kept && kept.Options == options.RateLimit ? kept : new ClientRateLimiter(options.RateLimit);
        }

        return new Policy(acl, limiter, options.MaxConnectionsPerClient, TimeSpan.FromMilliseconds(options.ClientWriteTimeoutMs), options.MaxBufferedAnswerBytes);
    }

    private sealed record Policy(ClientAcl Acl, ClientRateLimiter? Limiter, int MaxConnectionsPerClient, TimeSpan WriteTimeout, int MaxBufferedAnswerBytes);
}
