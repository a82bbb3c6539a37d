using System.Threading.Channels;
using Gateway.Sdk.Routing;

namespace Gateway.EndToEnd.WireGuard;

/// <summary>
/// Stands in for the gateway's dispatcher and TUN: collects the packets the engine delivers and, when asked,
/// answers ICMP echo requests like a host stack would (the reply goes back through the origin route).
/// </summary>
public sealed class TestTunnelEndpoint : IPacketInjector
{
    private readonly Channel<byte[]> _delivered = Channel.CreateUnbounded<byte[]>();
    private int _delivered_count;

    /// <summary>Answer echo requests (as the host behind the TUN would).</summary>
    public bool AnswerPings { get; set; }

    /// <summary>Number of packets delivered so far.</summary>
    public int DeliveredCount => Volatile.Read(ref _delivered_count);

    /// <inheritdoc/>
    public void Deliver(Span<byte> packet, IPacketRoute origin)
    {
        Interlocked.Increment(ref _delivered_count);
        byte[] copy = packet.ToArray();
        if (AnswerPings && IcmpPackets.ReplyTo(copy) is { } reply)
        {
            origin.Send(reply);
            origin.Flush();
        }

        _delivered.Writer.TryWrite(copy);
    }

    /// <inheritdoc/>
    public void Flush()
    {
    }

    /// <summary>Waits for a delivered packet matching <paramref name="match"/>; null on timeout.</summary>
    public async Task<byte[]?> WaitForAsync(Func<byte[], bool> match, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                byte[] packet = await _delivered.Reader.ReadAsync(cts.Token);
                if (match(packet))
                {
                    return packet;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
