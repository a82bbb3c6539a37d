using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Sdk.Handlers;

namespace Gateway.Plugins.DnsDot.Server;

/// <summary>
/// DNS over UDP (RFC 1035 §4.2.1) on host sockets and virtual endpoints. Errors, rule verdicts and cache
/// hits are answered on the receiving thread; forwarded queries are answered from the upstream connection's
/// read loop. Every query first passes the <see cref="ClientGate"/> (ACL, rate limit). Nothing is allocated per
/// query on any path.
/// </summary>
internal sealed class DnsDatagramHandler : IDatagramHandler, IAnswerSink
{
    [ThreadStatic]
    private static byte[]? t_answer;

    private readonly DnsResolver _resolver;
    private readonly DnsDotMetrics? _metrics;
    private readonly ClientGate? _gate;

    /// <summary>Creates the handler; without a gate every client is admitted (tests).</summary>
    public DnsDatagramHandler(DnsResolver resolver, DnsDotMetrics? metrics = null, ClientGate? gate = null)
    {
        _resolver = resolver;
        _metrics = metrics;
        _gate = gate;
    }

    /// <inheritdoc/>
    public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
    {
        byte[] answer = t_answer ??= new byte[DnsResolver.MaxMessageSize];
        if (_gate is not null && payload.Length >= Wire.DnsConstants.HeaderSize)
        {
            AdmissionResult admission = _gate.Admit(request.Client.Address, DnsTransport.Udp);
            if (admission != AdmissionResult.Allow)
            {
                int refusal = AdmissionAnswer.Write(payload, admission, answer);
                if (refusal > 0)
                {
                    Reply(request, answer.AsSpan(0, refusal));
                }

                return;
            }
        }

        ResolveStep step = _resolver.Begin(payload, request.Client.Address, DnsTransport.Udp, request.MaxReplySize, answer, out int length, out PendingQuery pending);
        if (step == ResolveStep.Answered)
        {
            Reply(request, answer.AsSpan(0, length));
        }
        else if (step == ResolveStep.Upstream)
        {
            UpstreamQuery query = _resolver.CreateQuery(payload, pending, this, pending.Started);
            query.Datagram = request;
            _resolver.Forward(query);
        }
    }

    /// <inheritdoc/>
    public void OnAnswer(UpstreamQuery query, ReadOnlySpan<byte> answer) => Reply(query.Datagram, answer);

    private void Reply(in DatagramRequest request, ReadOnlySpan<byte> answer)
    {
        if (!request.Reply(answer))
        {
            _metrics?.ClientWriteErrors.Add(1);
        }
    }
}
