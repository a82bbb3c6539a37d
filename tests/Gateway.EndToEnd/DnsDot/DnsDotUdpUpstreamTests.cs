using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>
/// The udp:// upstream's RFC 5452 defences against a responder this test owns (a real socket on loopback, so the
/// test sees every datagram the gateway sends and can answer from anywhere): a fresh random source port per query
/// while the upstream keeps its sockets between queries, no port left open once a query is answered, and answers
/// that do not match (another source port, another id, a late duplicate queued on a kept socket) never taken for
/// the answer.
/// </summary>
public sealed class DnsDotUdpUpstreamTests
{
    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(10);

    private static async Task<(GatewayProcess Gateway, int Port, int Admin)> StartAsync(int upstreamPort)
    {
        int port = DnsDotGatewayProcessTests.FreePort();
        int admin = PrometheusText.FreePort();
        string yaml = $$"""
            host:
              admin: { listen: "127.0.0.1:{{admin}}" }
            dns-dot:
              listen: ["127.0.0.1:{{port}}"]
              cache: { enabled: false }
              upstreams: [ { address: "udp://127.0.0.1:{{upstreamPort}}" } ]
            """;
        return (await GatewayProcess.StartAsync(yaml), port, admin);
    }

    [Fact]
    public async Task SequentialQueries_EachFromAFreshPort_NoPortLeftOpenAfterwards()
    {
        await using Responder responder = new();
        (GatewayProcess gateway, int port, _) = await StartAsync(responder.Port);
        await using (gateway)
        {
            const int Queries = 40;
            for (int i = 0; i < Queries; i++)
            {
                byte[]? answer = await DnsDotClient.UdpAsync(port, DnsDotClient.Query($"n{i}.example", 1, (ushort)i), QueryTimeout);
                Assert.NotNull(answer);
                Assert.Equal(0, DnsDotClient.Rcode(answer));
                Assert.Equal(Responder.RealAddress, FirstAddress(answer));
            }

            // One port per query: 40 draws from the kernel's ~28,000 ephemeral ports repeat with a probability < 3 %;
            // two repeats (38 distinct) would be ~0.04 %. A kept socket re-used without a new port would repeat at once.
            int[] ports = responder.SourcePorts.ToArray();
            Assert.Equal(Queries, ports.Length);
            Assert.True(ports.Distinct().Count() >= Queries - 2, $"source ports: {string.Join(' ', ports)}");

            // Every query is answered: no socket of the gateway is bound to a port towards the responder any more.
            Assert.Empty(OpenPortsTowards(responder.Port));
        }
    }

    [Fact]
    public async Task ForgedAndLateAnswers_Ignored_EachQueryGetsItsOwn()
    {
        await using Responder responder = new() { Forge = true };
        (GatewayProcess gateway, int port, int admin) = await StartAsync(responder.Port);
        await using (gateway)
        {
            // Sequential queries land on the same kept socket: each finds the previous query's late duplicate queued.
            for (int i = 0; i < 20; i++)
            {
                byte[]? answer = await DnsDotClient.UdpAsync(port, DnsDotClient.Query($"f{i}.example", 1, (ushort)(100 + i)), QueryTimeout);
                Assert.NotNull(answer);
                Assert.Equal(Responder.RealAddress, FirstAddress(answer));
            }

            // Parallel ones spread over several sockets.
            byte[]?[] answers = await Task.WhenAll(Enumerable.Range(0, 30).Select(i =>
                DnsDotClient.UdpAsync(port, DnsDotClient.Query($"p{i}.example", 1, (ushort)(200 + i)), QueryTimeout)));
            Assert.All(answers, a => Assert.Equal(Responder.RealAddress, FirstAddress(a!)));

            // The forged answer from the right source with a wrong id reached the gateway and was counted (the one
            // from another port never got past the kernel); late duplicates too, when read before the next query.
            string metrics = await PrometheusText.FetchAsync(admin);
            Assert.True(PrometheusText.Sum(metrics, "dns_upstream_unmatched_responses_total") >= 50, metrics);
            Assert.Empty(OpenPortsTowards(responder.Port));
        }
    }

    // The address of the first answer record (an A record: the responder's answers carry one).
    private static IPAddress FirstAddress(byte[] answer)
    {
        int at = 12;
        while (answer[at] != 0)
        {
            at += 1 + answer[at];
        }

        at += 5;
        at += (answer[at] & 0xC0) == 0xC0 ? 2 : SkipName(answer, at);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(at)));
        return new IPAddress(answer.AsSpan(at + 10, 4));
    }

    private static int SkipName(byte[] message, int at)
    {
        int start = at;
        while (message[at] != 0)
        {
            at += 1 + message[at];
        }

        return at + 1 - start;
    }

    // Local ports of IPv4 UDP sockets on this machine connected to 127.0.0.1:port (/proc/net/udp: hashed sockets only).
    private static List<int> OpenPortsTowards(int port)
    {
        string remote = $"0100007F:{port:X4}";
        List<int> open = new();
        foreach (string line in File.ReadLines("/proc/net/udp").Skip(1))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 2 && fields[2] == remote)
            {
                open.Add(int.Parse(fields[1].Split(':')[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            }
        }

        return open;
    }

    /// <summary>
    /// A plain DNS server on loopback answering every A question with <see cref="RealAddress"/>. With
    /// <see cref="Forge"/>, each answer is preceded by a forgery from another port (right id) and one from its own
    /// port (wrong id), both saying <see cref="ForgedAddress"/>, and followed by a duplicate of itself.
    /// </summary>
    private sealed class Responder : IAsyncDisposable
    {
        public static readonly IPAddress RealAddress = IPAddress.Parse("10.1.2.3");
        public static readonly IPAddress ForgedAddress = IPAddress.Parse("6.6.6.6");

        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly Socket _other = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public Responder()
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _other.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _loop = Task.Run(LoopAsync);
        }

        public int Port => ((IPEndPoint)_socket.LocalEndPoint!).Port;

        public bool Forge { get; init; }

        public ConcurrentQueue<int> SourcePorts { get; } = new();

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _socket.Dispose();
            _other.Dispose();
            await _loop.ContinueWith(_ => { }, TaskScheduler.Default);
        }

        private async Task LoopAsync()
        {
            byte[] buffer = new byte[4096];
            while (!_stop.IsCancellationRequested)
            {
                SocketReceiveFromResult received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                IPEndPoint from = (IPEndPoint)received.RemoteEndPoint;
                SourcePorts.Enqueue(from.Port);
                byte[] query = buffer[..received.ReceivedBytes];
                if (Forge)
                {
                    await _other.SendToAsync(Answer(query, ForgedAddress, id: null), from);
                    await _socket.SendToAsync(Answer(query, ForgedAddress, id: (ushort)(BinaryPrimitives.ReadUInt16BigEndian(query) ^ 0x5A5A)), from);
                }

                byte[] answer = Answer(query, RealAddress, id: null);
                await _socket.SendToAsync(answer, from);
                if (Forge)
                {
                    await _socket.SendToAsync(answer, from);
                }
            }
        }

        // The query's header and question, QR and RA set, one A record; no additional section.
        private static byte[] Answer(byte[] query, IPAddress address, ushort? id)
        {
            int end = 12;
            while (query[end] != 0)
            {
                end += 1 + query[end];
            }

            end += 5;
            byte[] answer = new byte[end + 16];
            query.AsSpan(0, end).CopyTo(answer);
            if (id is { } forged)
            {
                BinaryPrimitives.WriteUInt16BigEndian(answer, forged);
            }

            answer[2] = (byte)(0x80 | (query[2] & 0x01));
            answer[3] = 0x80;
            BinaryPrimitives.WriteUInt16BigEndian(answer.AsSpan(6), 1);
            BinaryPrimitives.WriteUInt16BigEndian(answer.AsSpan(8), 0);
            BinaryPrimitives.WriteUInt16BigEndian(answer.AsSpan(10), 0);
            byte[] record = [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4];
            record.CopyTo(answer, end);
            address.TryWriteBytes(answer.AsSpan(end + 12), out _);
            return answer;
        }
    }
}
