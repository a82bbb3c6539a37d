using System.Collections.Concurrent;
using System.Text;
using Gateway.EndToEnd.Infrastructure;
using Gateway.Host.Tun;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.EndToEnd.Tun;

/// <summary>
/// Issue 13 "threads that die": the TUN's read loop is its only reader, so an exception escaping it would end the
/// process. A receiver that throws on one batch (standing in for a dispatcher bug) loses that batch only.
/// </summary>
public sealed class TunReadLoopTests
{
    [Fact]
    public async Task ReadLoop_ReceiverThrowsOnABatch_CountedAndLaterPacketsStillRead()
    {
        await using NetworkNamespace ns = await NetworkNamespace.CreateAsync("gwloop");
        LinuxTunDevice device = await NetnsThread.RunAsync(ns.Name, () => LinuxTunDevice.Create("gw9", 1420, NullLogger.Instance));
        try
        {
            await ns.ShCheckedAsync("ip addr add 10.41.0.1/24 dev gw9 && ip link set gw9 up");
            var receiver = new ThrowingReceiver();
            device.Start(receiver);

            // Three bombs, each in a batch of its own (a pause between sends), then ten ordinary datagrams.
            await NamespacePython.RunCheckedAsync(ns, """
                import socket, time
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                for i in range(3):
                    s.sendto(b"boom", ("10.41.0.5", 9))
                    time.sleep(0.2)
                for i in range(10):
                    s.sendto(b"ok %d" % i, ("10.41.0.5", 9))
                    time.sleep(0.02)
                """);

            for (long deadline = Environment.TickCount64 + 10_000; Environment.TickCount64 < deadline && receiver.Payloads.Count < 10;)
            {
                await Task.Delay(50);
            }

            Assert.Equal(Enumerable.Range(0, 10).Select(i => $"ok {i}"), receiver.Payloads.Where(p => p.StartsWith("ok", StringComparison.Ordinal)));
            Assert.Equal(3, device.LoopFailures);
        }
        finally
        {
            device.Dispose();
        }
    }

    /// <summary>Records UDP payloads; throws on a batch holding "boom", as a dispatcher bug would.</summary>
    private sealed class ThrowingReceiver : IPacketReceiver
    {
        public ConcurrentQueue<string> Payloads { get; } = new();

        public void OnPackets(PacketBatch batch)
        {
            for (int i = 0; i < batch.Count; i++)
            {
                Span<byte> packet = batch[i];
                if (packet.Length <= 28 || packet[0] >> 4 != 4 || packet[9] != 17)
                {
                    continue;
                }

                string payload = Encoding.ASCII.GetString(packet[28..]);
                if (payload == "boom")
                {
                    throw new InvalidOperationException("a dispatcher bug");
                }

                Payloads.Enqueue(payload);
            }
        }
    }
}
