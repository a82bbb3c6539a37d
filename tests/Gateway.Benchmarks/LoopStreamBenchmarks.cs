using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Gateway.Plugins.DnsDot.Server;
using Gateway.Plugins.DnsDot.Server.Epoll;

namespace Gateway.Benchmarks;

/// <summary>
/// The cost of <see cref="LoopStream"/>'s write turn on the path every DoT and TCP answer takes: an uncontended write
/// whose send completes at once (a loopback peer drains on a thread of its own). The baseline is the socket's send
/// alone, which is what LoopStream.WriteAsync was before the turn.
/// </summary>
[MemoryDiagnoser]
public class LoopStreamBenchmarks
{
    private readonly byte[] _answer = new byte[64];
    private EpollLoopGroup _loops = null!;
    private Socket _client = null!;
    private Socket _server = null!;
    private LoopSocket _loop = null!;
    private LoopStream _stream = null!;
    private Thread _drain = null!;

    [GlobalSetup]
    public void Setup()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _client.Connect(listener.LocalEndPoint!);
        _server = listener.Accept();
        _loops = new EpollLoopGroup("bench");
        _loop = _loops.TryAdd(_server) ?? throw new InvalidOperationException("no loop took the socket");
        _stream = new LoopStream(_loop);
        _drain = new Thread(() =>
        {
            byte[] buffer = new byte[256 * 1024];
            try
            {
                while (_client.Receive(buffer) > 0)
                {
                }
            }
            catch (SocketException)
            {
            }
        }) { IsBackground = true };
        _drain.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _loop.Abort();
        _loop.Dispose();
        _server.Dispose();
        _client.Dispose();
        _drain.Join();
        _loops.Dispose();
    }

    [Benchmark(Baseline = true)]
    public ValueTask SocketSend() => _loop.SendAsync(_answer);

    [Benchmark]
    public ValueTask StreamWrite() => _stream.WriteAsync(_answer);
}
