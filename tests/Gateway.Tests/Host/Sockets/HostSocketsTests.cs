using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Host.Configuration;
using Gateway.Host.Sockets;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;

namespace Gateway.Tests.Host.Sockets;

public sealed class HostSocketsTests : HostSocketsTestBase
{
    [Theory]
    [InlineData("127.0.0.1:0")]
    [InlineData("[::1]:0")]
    public async Task BindDatagram_Loopback_RepliesToSender(string endpoint)
    {
        using UdpHostListener listener = _sockets.BindDatagram(_guard, Ephemeral(endpoint), new UpperCaseDatagrams());
        using var client = new UdpClient(listener.Local.Address.Family);
        client.Connect(listener.Local.ToIPEndPoint());

        await client.SendAsync(Encoding.ASCII.GetBytes("hello"));
        UdpReceiveResult reply = await client.ReceiveAsync().WaitAsync(Timeout);

        Assert.Equal("HELLO", Encoding.ASCII.GetString(reply.Buffer));
        Assert.Equal(listener.Local.ToIPEndPoint(), reply.RemoteEndPoint);
    }

    [Theory]
    [InlineData("127.0.0.1:0", true)]
    [InlineData("[::1]:0", true)]
    [InlineData("127.0.0.1:0", false)]
    [InlineData("[::1]:0", false)]
    public async Task BindDatagram_Unbind_DeliversNoSpuriousDatagram(string endpoint, bool batched)
    {
        var seen = new CountingDatagrams();
        var listener = new UdpHostListener(Ephemeral(endpoint), _guard, seen, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, _meter.CreateCounter<long>("test.datagrams"), batched: batched);
        listener.Start();
        using var client = new UdpClient(listener.Local.Address.Family);
        await client.SendAsync(Encoding.ASCII.GetBytes("one"), listener.Local.ToIPEndPoint());
        await seen.WaitForAsync(1, Timeout);

        // Closing while the receive loop is blocked must not hand the handler an empty datagram "from 0.0.0.0:0".
        listener.Dispose();

        Assert.Equal(["one"], seen.Payloads);
    }

    [Fact]
    public async Task BindDatagram_HandlerThrows_KeepsServing()
    {
        using UdpHostListener listener = _sockets.BindDatagram(_guard, Ephemeral("127.0.0.1:0"), new UpperCaseDatagrams());
        using var client = new UdpClient(AddressFamily.InterNetwork);
        client.Connect(listener.Local.ToIPEndPoint());

        await client.SendAsync(Encoding.ASCII.GetBytes("throw"));
        await client.SendAsync(Encoding.ASCII.GetBytes("still there"));
        UdpReceiveResult reply = await client.ReceiveAsync().WaitAsync(Timeout);

        Assert.Equal("STILL THERE", Encoding.ASCII.GetString(reply.Buffer));
    }

    [Fact]
    public async Task BindDatagram_WildcardV6_DoesNotTakeTheV4Port()
    {
        using UdpHostListener v6 = _sockets.BindDatagram(_guard, Ephemeral("[::]:0"), new UpperCaseDatagrams());

        // IPV6_V6ONLY: the same port stays free for an IPv4 socket.
        using UdpHostListener v4 = _sockets.BindDatagram(_guard, new NetEndpoint(NetAddress.AnyV4, v6.Local.Port), new UpperCaseDatagrams());

        Assert.Equal(v6.Local.Port, v4.Local.Port);
        await Task.CompletedTask;
    }

    [Theory]
    [InlineData("127.0.0.1:0")]
    [InlineData("[::1]:0")]
    public async Task BindStream_Loopback_ServesLines(string endpoint)
    {
        using TcpHostListener listener = _sockets.BindStream(_guard, Ephemeral(endpoint), new UpperCaseLines(), new LimitsOptions());
        using var client = new TcpClient(listener.Local.Address.Family);
        await client.ConnectAsync(listener.Local.ToIPEndPoint()).WaitAsync(Timeout);
        using var reader = new StreamReader(client.GetStream());

        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes("one\ntwo\n"));

        Assert.Equal("ONE", await reader.ReadLineAsync().WaitAsync(Timeout));
        Assert.Equal("TWO", await reader.ReadLineAsync().WaitAsync(Timeout));
    }

    [Theory]
    [InlineData("127.0.0.1:0")]
    [InlineData("[::1]:0")]
    public async Task BindStream_AcceptedConnection_HasNoDelay(string endpoint)
    {
        var handler = new NoDelayProbe();
        using TcpHostListener listener = _sockets.BindStream(_guard, Ephemeral(endpoint), handler, new LimitsOptions());
        using var client = new TcpClient(listener.Local.Address.Family);
        await client.ConnectAsync(listener.Local.ToIPEndPoint()).WaitAsync(Timeout);

        Assert.True(await handler.NoDelay.Task.WaitAsync(Timeout));
    }

    [Fact]
    public async Task BindStream_OverConnectionLimit_ClosesNewConnection()
    {
        using TcpHostListener listener = _sockets.BindStream(_guard, Ephemeral("127.0.0.1:0"), new UpperCaseLines(), new LimitsOptions { MaxConnections = 1 });
        using var first = new TcpClient(AddressFamily.InterNetwork);
        await first.ConnectAsync(listener.Local.ToIPEndPoint()).WaitAsync(Timeout);
        using var firstReader = new StreamReader(first.GetStream());
        await first.GetStream().WriteAsync(Encoding.ASCII.GetBytes("a\n"));
        Assert.Equal("A", await firstReader.ReadLineAsync().WaitAsync(Timeout));

        using var second = new TcpClient(AddressFamily.InterNetwork);
        await second.ConnectAsync(listener.Local.ToIPEndPoint()).WaitAsync(Timeout);
        var buffer = new byte[16];
        int read;
        try
        {
            await second.GetStream().WriteAsync(Encoding.ASCII.GetBytes("b\n"));
            read = await second.GetStream().ReadAsync(buffer).AsTask().WaitAsync(Timeout);
        }
        catch (IOException)
        {
            read = 0;
        }

        Assert.Equal(0, read);
        await first.GetStream().WriteAsync(Encoding.ASCII.GetBytes("c\n"));
        Assert.Equal("C", await firstReader.ReadLineAsync().WaitAsync(Timeout));
    }

    [Fact]
    public async Task BindStream_IdleClient_IsClosedAfterIdleTimeout()
    {
        using TcpHostListener listener = _sockets.BindStream(_guard, Ephemeral("127.0.0.1:0"), new UpperCaseLines(), new LimitsOptions { IdleTimeoutSeconds = 1 });
        using var client = new TcpClient(AddressFamily.InterNetwork);

        // Timed from before the connect: the server's idle clock cannot start earlier, however late this thread runs.
        long connecting = Environment.TickCount64;
        await client.ConnectAsync(listener.Local.ToIPEndPoint()).WaitAsync(Timeout);

        var buffer = new byte[16];
        int read;
        try
        {
            read = await client.GetStream().ReadAsync(buffer).AsTask().WaitAsync(Timeout);
        }
        catch (IOException)
        {
            read = 0;
        }

        long idle = Environment.TickCount64 - connecting;

        // Closed, and not before the 1 s idle timeout (a listener that closed at once would pass without the bound);
        // the tick counter's granularity allows a little early, a loaded CI machine a lot late.
        Assert.Equal(0, read);
        Assert.InRange(idle, 980, 10_000);
    }

    [Fact]
    public async Task BindStream_Dispose_ClosesOpenConnectionsAndPort()
    {
        TcpHostListener listener = _sockets.BindStream(_guard, Ephemeral("127.0.0.1:0"), new UpperCaseLines(), new LimitsOptions());
        using var client = new TcpClient(AddressFamily.InterNetwork);
        await client.ConnectAsync(listener.Local.ToIPEndPoint()).WaitAsync(Timeout);
        using var reader = new StreamReader(client.GetStream());
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes("x\n"));
        Assert.Equal("X", await reader.ReadLineAsync().WaitAsync(Timeout));

        listener.Dispose();

        Assert.Null(await reader.ReadLineAsync().WaitAsync(Timeout));
        using var again = new TcpClient(AddressFamily.InterNetwork);
        await Assert.ThrowsAnyAsync<SocketException>(() => again.ConnectAsync(listener.Local.ToIPEndPoint()).WaitAsync(Timeout));
    }

    [Fact]
    public void BindStream_PortInUse_ThrowsSocketException()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var endpoint = NetEndpoint.FromIPEndPoint((IPEndPoint)taken.LocalEndPoint!);

        Assert.Throws<SocketException>(() => _sockets.BindStream(_guard, endpoint, new UpperCaseLines(), new LimitsOptions()));
    }


    private sealed class CountingDatagrams : IDatagramHandler
    {
        private readonly List<string> _payloads = [];

        public string[] Payloads
        {
            get
            {
                lock (_payloads)
                {
                    return [.. _payloads];
                }
            }
        }

        public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
        {
            lock (_payloads)
            {
                _payloads.Add(Encoding.ASCII.GetString(payload) + (request.Client.Port == 0 ? " from port 0" : string.Empty));
            }
        }

        public async Task WaitForAsync(int count, TimeSpan timeout)
        {
            long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            while (Payloads.Length < count)
            {
                Assert.True(Environment.TickCount64 < deadline, $"{Payloads.Length} datagrams seen, expected {count}");
                await Task.Delay(10);
            }
        }
    }

    private sealed class UpperCaseDatagrams : IDatagramHandler
    {
        public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
        {
            if (payload.SequenceEqual("throw"u8))
            {
                throw new InvalidOperationException("asked to throw");
            }

            Span<byte> reply = stackalloc byte[payload.Length];
            for (int i = 0; i < payload.Length; i++)
            {
                reply[i] = (byte)char.ToUpperInvariant((char)payload[i]);
            }

            request.Reply(reply);
        }
    }

    /// <summary>Reports whether the accepted socket the handler is given has TCP_NODELAY set.</summary>
    private sealed class NoDelayProbe : IStreamHandler
    {
        public TaskCompletionSource<bool> NoDelay { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken)
        {
            NoDelay.TrySetResult(connection.Socket.NoDelay);   // getsockopt: what the kernel has
            return Task.CompletedTask;
        }
    }

    private sealed class UpperCaseLines : IStreamHandler
    {
        public async Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken)
        {
            using var reader = new StreamReader(connection.Stream, leaveOpen: true);
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                await connection.Stream.WriteAsync(Encoding.ASCII.GetBytes(line.ToUpperInvariant() + "\n"), cancellationToken);
            }
        }
    }
}
