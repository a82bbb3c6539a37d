using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Gateway.EndToEnd.DnsDot;

namespace Gateway.EndToEnd.Admin;

/// <summary>
/// Paced DNS load for the console tests: UDP queries for distinct names under <c>load.test</c> at a rate the test
/// changes while it runs (so a chart can be seen rising with the load), counting the answers that came back.
/// </summary>
public sealed class DnsLoad : IAsyncDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sender;
    private readonly Task _receiver;
    private double _rate;
    private long _answers;

    public DnsLoad(int port, double queriesPerSecond)
    {
        _rate = queriesPerSecond;
        _socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
        _sender = Task.Run(SendAsync);
        _receiver = Task.Run(ReceiveAsync);
    }

    /// <summary>Answers received so far.</summary>
    public long Answers => Interlocked.Read(ref _answers);

    /// <summary>Queries per second from now on.</summary>
    public double Rate
    {
        get => Volatile.Read(ref _rate);
        set => Volatile.Write(ref _rate, value);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        await Task.WhenAll(_sender, _receiver).ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }

    private async Task SendAsync()
    {
        // Credit-based pacing: every 10 ms send what the rate allows for the time since the last tick, so a rate
        // change applies within one tick and a late tick (loaded machine) catches up instead of losing queries.
        var clock = Stopwatch.StartNew();
        double credit = 0;
        TimeSpan last = TimeSpan.Zero;
        ushort id = 0;
        long serial = 0;
        while (!_stop.IsCancellationRequested)
        {
            TimeSpan now = clock.Elapsed;
            credit = Math.Min(credit + (now - last).TotalSeconds * Rate, Rate);
            last = now;
            for (; credit >= 1; credit--)
            {
                byte[] query = DnsDotClient.Query($"q{serial++}.load.test", 1, ++id);
                try
                {
                    await _socket.SendAsync(query, SocketFlags.None, _stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    return;
                }
            }

            try
            {
                await Task.Delay(10, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[1500];
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                Interlocked.Increment(ref _answers);
            }
            catch (SocketException)
            {
                // An ICMP error from an earlier datagram; keep receiving.
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
        }
    }
}
