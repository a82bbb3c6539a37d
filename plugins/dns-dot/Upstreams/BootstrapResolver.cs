using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>
/// Resolves the host names of upstream URLs (<c>tls://dns.example</c>, <c>https://dns.example/dns-query</c>):
/// through the <c>bootstrap:</c> servers (plain DNS over UDP, each asked in turn, the answer's TTL honoured), or,
/// without them, the system resolver (getaddrinfo gives no TTL: re-asked every <see cref="SystemTtl"/>). Never
/// through dns-dot itself: the gateway's own name resolver (which is dns-dot's pipeline) is not used here, so an
/// upstream can be found before any upstream works.
/// </summary>
internal sealed class BootstrapResolver
{
    /// <summary>How long an address from the system resolver is used before asking again.</summary>
    public static readonly TimeSpan SystemTtl = TimeSpan.FromSeconds(60);

    // A short TTL from a bootstrap server is raised to this (a zero TTL would mean asking on every connect).
    private static readonly TimeSpan MinimumTtl = TimeSpan.FromSeconds(10);

    private readonly IReadOnlyList<NetEndpoint> _servers;
    private readonly TimeSpan _timeout;
    private readonly Action<Socket> _protect;

    /// <summary>Creates the resolver; no servers means the system resolver.</summary>
    public BootstrapResolver(IReadOnlyList<NetEndpoint> servers, TimeSpan timeout, Action<Socket> protect)
    {
        _servers = servers;
        _timeout = timeout;
        _protect = protect;
    }

    /// <summary>The configured servers (empty: the system resolver).</summary>
    public IReadOnlyList<NetEndpoint> Servers => _servers;

    /// <summary>
    /// The addresses of <paramref name="host"/> (IPv4 first: the upstream is then reached without depending on IPv6
    /// routing) and how long they may be used. Throws <see cref="SocketException"/> when no server knows the name.
    /// </summary>
    public async Task<(IReadOnlyList<IPAddress> Addresses, TimeSpan Ttl)> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (_servers.Count == 0)
        {
            IPAddress[] system = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            return ([.. system.OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)], SystemTtl);
        }

        string? failure = null;
        foreach (NetEndpoint server in _servers)
        {
            try
            {
                var addresses = new List<IPAddress>();
                uint ttl = uint.MaxValue;
                foreach (ushort type in new[] { DnsConstants.TypeA, DnsConstants.TypeAaaa })
                {
                    (List<IPAddress> found, uint foundTtl) = await AskAsync(server, host, type, cancellationToken).ConfigureAwait(false);
                    addresses.AddRange(found);
                    ttl = Math.Min(ttl, foundTtl);
                }

                if (addresses.Count > 0)
                {
                    TimeSpan lifetime = TimeSpan.FromSeconds(Math.Max(ttl, (uint)MinimumTtl.TotalSeconds));
                    return (addresses, lifetime);
                }

                failure = $"{server} knows no address of {host}";
            }
            catch (Exception e) when (e is SocketException or TimeoutException or InvalidDataException)
            {
                failure = $"{server}: {e.Message}";
            }
        }

        throw new SocketException((int)SocketError.HostNotFound, failure ?? $"no bootstrap server resolved {host}");
    }

    private async Task<(List<IPAddress> Addresses, uint Ttl)> AskAsync(NetEndpoint server, string host, ushort type, CancellationToken cancellationToken)
    {
        byte[] query = new byte[DnsQueryWriter.MaxQuerySize];
        ushort id = (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1);
        int length = DnsQueryWriter.Write(host, type, id, query);
        if (length < 0)
        {
            throw new InvalidDataException($"'{host}' is not a host name");
        }

        using var socket = new Socket(server.Address.Family, SocketType.Dgram, ProtocolType.Udp);
        _protect(socket);
        await socket.ConnectAsync(server.ToIPEndPoint(), cancellationToken).ConfigureAwait(false);
        await socket.SendAsync(query.AsMemory(0, length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        byte[] answer = new byte[4096];
        while (true)
        {
            int received;
            try
            {
                received = await socket.ReceiveAsync(answer, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"no answer within {_timeout.TotalMilliseconds:0} ms");
            }

            // Only the answer to this question with this id counts (a connected socket already filters the source).
            ReadOnlySpan<byte> message = answer.AsSpan(0, received);
            ReadOnlySpan<byte> name = query.AsSpan(DnsConstants.HeaderSize, length - DnsConstants.HeaderSize - 4 - DnsMessageWriter.OptSize);
            if (received < DnsConstants.HeaderSize || BinaryPrimitives.ReadUInt16BigEndian(message) != id ||
                !DnsMessageReader.TryScanResponse(message, name, type, Span<int>.Empty, out _))
            {
                continue;
            }

            var addresses = new List<IPAddress>();
            int rcode = DnsAddressReader.Read(message, type, addresses, out uint ttl);
            if (rcode is not (DnsConstants.RcodeNoError or DnsConstants.RcodeNxDomain))
            {
                throw new SocketException((int)SocketError.TryAgain, $"rcode {rcode} for {host}");
            }

            return (addresses, ttl);
        }
    }
}
