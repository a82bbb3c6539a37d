using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Resolver;

/// <summary>
/// dns-dot as the gateway's name resolver (<c>IPluginContext.ProvideNameResolver</c>): a name another plugin asks
/// for (the proxy's SOCKS and HTTP destinations) goes through dns-dot's own pipeline in-process — rules, cache,
/// coalescing, the upstream groups and their encrypted transports — and never to the system resolver. The query
/// is asked as client 127.0.0.1 with transport <see cref="DnsTransport.Internal"/> (rules can tell), and is not
/// subject to the client ACL or rate limit (it does not come from the network).
/// </summary>
internal sealed class DnsDotNameResolver : INameResolver
{
    private static readonly NetAddress Self = NetAddress.Parse("127.0.0.1");
    private readonly DnsResolver _resolver;

    /// <summary>Creates the resolver over dns-dot's query path.</summary>
    public DnsDotNameResolver(DnsResolver resolver) => _resolver = resolver;

    /// <inheritdoc/>
    /// <remarks>
    /// Waits at most the resolver's <c>queryTimeoutMs</c> (an upstream that does not answer gives SERVFAIL, reported
    /// as <see cref="SocketError.TryAgain"/>); <paramref name="cancellationToken"/> is checked before each question.
    /// </remarks>
    public async ValueTask<IReadOnlyList<IPAddress>> ResolveAsync(string host, AddressFamily family, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        if (IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? literal))
        {
            return family == AddressFamily.Unspecified || literal.AddressFamily == family ? [literal] : [];
        }

        if (family == AddressFamily.InterNetwork)
        {
            return await AskAsync(host, DnsConstants.TypeA, cancellationToken).ConfigureAwait(false);
        }

        if (family == AddressFamily.InterNetworkV6)
        {
            return await AskAsync(host, DnsConstants.TypeAaaa, cancellationToken).ConfigureAwait(false);
        }

        // Both families at once, IPv6 first as getaddrinfo orders them; the name is missing only when both say so.
        ValueTask<List<IPAddress>?> v6 = AskOrNullAsync(host, DnsConstants.TypeAaaa, cancellationToken);
        ValueTask<List<IPAddress>?> v4 = AskOrNullAsync(host, DnsConstants.TypeA, cancellationToken);
        List<IPAddress>? six = await v6.ConfigureAwait(false);
        List<IPAddress>? four = await v4.ConfigureAwait(false);
        if (six is null && four is null)
        {
            // Ask once more to learn which error it was (NXDOMAIN or a failure).
            return await AskAsync(host, DnsConstants.TypeA, cancellationToken).ConfigureAwait(false);
        }

        var all = new List<IPAddress>((six?.Count ?? 0) + (four?.Count ?? 0));
        all.AddRange(six ?? []);
        all.AddRange(four ?? []);
        return all;
    }

    private async ValueTask<List<IPAddress>?> AskOrNullAsync(string host, ushort type, CancellationToken cancellationToken)
    {
        try
        {
            return await AskAsync(host, type, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private async ValueTask<List<IPAddress>> AskAsync(string host, ushort type, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        byte[] query = ArrayPool<byte>.Shared.Rent(DnsQueryWriter.MaxQuerySize);
        byte[] answer = ArrayPool<byte>.Shared.Rent(DnsResolver.MaxMessageSize);
        AnswerWaiter? waiter = null;
        try
        {
            int length = DnsQueryWriter.Write(host, type, (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1), query);
            if (length < 0)
            {
                throw new SocketException((int)SocketError.HostNotFound);
            }

            ResolveStep step = _resolver.Begin(query.AsSpan(0, length), Self, DnsTransport.Internal, ushort.MaxValue, answer, out int answerLength, out PendingQuery pending);
            ReadOnlyMemory<byte> message;
            if (step == ResolveStep.Answered)
            {
                message = answer.AsMemory(0, answerLength);
            }
            else if (step == ResolveStep.Upstream)
            {
                waiter = AnswerWaiter.Rent();
                UpstreamQuery upstream = _resolver.CreateQuery(query.AsSpan(0, length), pending, waiter, pending.Started);
                ValueTask answered = waiter.WaitAsync();
                _resolver.Forward(upstream);
                await answered.ConfigureAwait(false);
                message = waiter.Buffer.AsMemory(0, waiter.Length);
            }
            else
            {
                // A rule said Drop.
                throw new SocketException((int)SocketError.TryAgain);
            }

            var addresses = new List<IPAddress>();
            int rcode = DnsAddressReader.Read(message.Span, type, addresses, out _);
            return rcode switch
            {
                DnsConstants.RcodeNoError => addresses,
                DnsConstants.RcodeNxDomain => throw new SocketException((int)SocketError.HostNotFound),
                _ => throw new SocketException((int)SocketError.TryAgain),
            };
        }
        finally
        {
            waiter?.Return();
            ArrayPool<byte>.Shared.Return(answer);
            ArrayPool<byte>.Shared.Return(query);
        }
    }
}
