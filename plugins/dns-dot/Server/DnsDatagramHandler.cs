using System.Buffers;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Upstreams;
using Gateway.Sdk.Handlers;

namespace Gateway.Plugins.DnsDot.Server;

/// <summary>
/// DNS over UDP (RFC 1035 §4.2.1) on host sockets and virtual endpoints. Errors, rule verdicts and cache
/// hits are answered on the receiving thread without allocating; upstream work continues asynchronously.
/// </summary>
internal sealed class DnsDatagramHandler : IDatagramHandler
{
    [ThreadStatic]
    private static byte[]? t_answer;

    private readonly DnsResolver _resolver;
    private readonly CancellationToken _stopping;

    /// <summary>Creates the handler.</summary>
    public DnsDatagramHandler(DnsResolver resolver, CancellationToken stopping)
    {
        _resolver = resolver;
        _stopping = stopping;
    }

    /// <inheritdoc/>
    public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
    {
        byte[] answer = t_answer ??= new byte[DnsResolver.MaxMessageSize];
        ResolveStep step = _resolver.Begin(payload, request.Client.Address, DnsTransport.Udp, request.MaxReplySize, answer, out int length, out PendingQuery pending);
        if (step == ResolveStep.Answered)
        {
            request.Reply(answer.AsSpan(0, length));
        }
        else if (step == ResolveStep.Upstream)
        {
            byte[] query = ArrayPool<byte>.Shared.Rent(payload.Length);
            payload.CopyTo(query);
            _ = CompleteAsync(request, query, payload.Length, pending);
        }
    }

    private async Task CompleteAsync(DatagramRequest request, byte[] query, int length, PendingQuery pending)
    {
        try
        {
            UpstreamAnswer answer = await _resolver.ResolveUpstreamAsync(query.AsMemory(0, length), pending, _stopping).ConfigureAwait(false);
            request.Reply(answer.Buffer.AsSpan(0, answer.Length));
            answer.Release();
        }
        catch (OperationCanceledException)
        {
            // Stopping: nobody is left to answer.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(query);
        }
    }
}
