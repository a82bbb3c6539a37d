using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Text;
using Gateway.Sdk.Relay;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Tests.Sdk.Relay;

public sealed class StreamRelayTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task RunAsync_ClientHalfCloses_UpstreamSeesEndAndTheAnswerStillArrives()
    {
        using SocketPair client = await SocketPair.ConnectAsync();
        using SocketPair upstream = await SocketPair.ConnectAsync();
        Task<RelayResult> relay = StreamRelay.RunAsync(client.Inner, upstream.Inner, null, CancellationToken.None);

        await client.Outer.SendAsync("request"u8.ToArray());
        client.Outer.Shutdown(SocketShutdown.Send);
        Assert.Equal("request", Encoding.ASCII.GetString(await SocketPair.ReadToEndAsync(upstream.Outer, Patience)));
        await upstream.Outer.SendAsync("the answer"u8.ToArray());
        upstream.Outer.Shutdown(SocketShutdown.Send);

        Assert.Equal("the answer", Encoding.ASCII.GetString(await SocketPair.ReadToEndAsync(client.Outer, Patience)));
        Assert.Equal(new RelayResult(RelayEnd.Completed, 7, 10), await relay.WaitAsync(Patience));
    }

    [Fact]
    public async Task RunAsync_UpstreamResets_ClientIsResetToo()
    {
        using SocketPair client = await SocketPair.ConnectAsync();
        using SocketPair upstream = await SocketPair.ConnectAsync();
        Task<RelayResult> relay = StreamRelay.RunAsync(client.Inner, upstream.Inner, null, CancellationToken.None);
        await upstream.Outer.SendAsync("partial"u8.ToArray());
        byte[] first = new byte[7];
        Assert.Equal(7, await client.Outer.ReceiveAsync(first).WaitAsync(Patience));

        upstream.Outer.LingerState = new LingerOption(true, 0);
        upstream.Outer.Close();

        SocketException reset = await Assert.ThrowsAsync<SocketException>(() => SocketPair.ReadToEndAsync(client.Outer, Patience));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        Assert.Equal(RelayEnd.UpstreamAborted, (await relay.WaitAsync(Patience)).End);
    }

    [Fact]
    public async Task RunAsync_OneWayDownloadLongerThanIdleTimeout_IsNotCut()
    {
        using SocketPair client = await SocketPair.ConnectAsync();
        using SocketPair upstream = await SocketPair.ConnectAsync();
        var clock = new FakeTimeProvider();
        var options = new StreamRelayOptions { IdleTimeout = TimeSpan.FromSeconds(10), TimeProvider = clock };
        Task<RelayResult> relay = StreamRelay.RunAsync(client.Inner, upstream.Inner, options, CancellationToken.None);

        // 12 chunks 7 s apart on the relay's clock: 84 s of download, eight idle timeouts, the client never sends.
        byte[] chunk = new byte[1000];
        for (int i = 0; i < 12; i++)
        {
            await upstream.Outer.SendAsync(chunk);
            Assert.Equal(chunk.Length, await ReceiveExactlyAsync(client.Outer, chunk.Length));
            clock.Advance(TimeSpan.FromSeconds(7));
        }

        upstream.Outer.Shutdown(SocketShutdown.Send);
        Assert.Empty(await SocketPair.ReadToEndAsync(client.Outer, Patience));
        client.Outer.Shutdown(SocketShutdown.Send);
        Assert.Equal(new RelayResult(RelayEnd.Completed, 0, 12_000), await relay.WaitAsync(Patience));
    }

    [Fact]
    public async Task RunAsync_NothingMovesForIdleTimeout_BothSidesClosed()
    {
        using SocketPair client = await SocketPair.ConnectAsync();
        using SocketPair upstream = await SocketPair.ConnectAsync();
        var clock = new FakeTimeProvider();
        var options = new StreamRelayOptions { IdleTimeout = TimeSpan.FromSeconds(10), TimeProvider = clock };
        Task<RelayResult> relay = StreamRelay.RunAsync(client.Inner, upstream.Inner, options, CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.False(relay.IsCompleted);

        clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Empty(await SocketPair.ReadToEndAsync(client.Outer, Patience));
        Assert.Empty(await SocketPair.ReadToEndAsync(upstream.Outer, Patience));
        Assert.Equal(RelayEnd.IdleTimeout, (await relay.WaitAsync(Patience)).End);
    }

    [Fact]
    public async Task RunAsync_HalfClosedThenSilent_IdleTimeoutStillCloses()
    {
        using SocketPair client = await SocketPair.ConnectAsync();
        using SocketPair upstream = await SocketPair.ConnectAsync();
        var clock = new FakeTimeProvider();
        var options = new StreamRelayOptions { IdleTimeout = TimeSpan.FromSeconds(10), TimeProvider = clock };
        Task<RelayResult> relay = StreamRelay.RunAsync(client.Inner, upstream.Inner, options, CancellationToken.None);

        client.Outer.Shutdown(SocketShutdown.Send);
        Assert.Empty(await SocketPair.ReadToEndAsync(upstream.Outer, Patience));
        clock.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(RelayEnd.IdleTimeout, (await relay.WaitAsync(Patience)).End);
        Assert.Empty(await SocketPair.ReadToEndAsync(client.Outer, Patience));
    }

    [Fact]
    public async Task RunAsync_Cancelled_BothSidesReset()
    {
        using SocketPair client = await SocketPair.ConnectAsync();
        using SocketPair upstream = await SocketPair.ConnectAsync();
        using var stop = new CancellationTokenSource();
        Task<RelayResult> relay = StreamRelay.RunAsync(client.Inner, upstream.Inner, null, stop.Token);

        stop.Cancel();

        Assert.Equal(RelayEnd.Canceled, (await relay.WaitAsync(Patience)).End);
        SocketException reset = await Assert.ThrowsAsync<SocketException>(() => SocketPair.ReadToEndAsync(client.Outer, Patience));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        await Assert.ThrowsAsync<SocketException>(() => SocketPair.ReadToEndAsync(upstream.Outer, Patience));
    }

    [Fact]
    public async Task RunAsync_BytesCounter_CountsEachDirectionWithItsTag()
    {
        using var meter = new Meter("Gateway.Tests.StreamRelay." + Guid.NewGuid());
        Counter<long> bytes = meter.CreateCounter<long>("bytes");
        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument == bytes)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            lock (seen)
            {
                string direction = (string)tags[0].Value!;
                seen[direction] = seen.GetValueOrDefault(direction) + value;
            }
        });
        listener.Start();
        using SocketPair client = await SocketPair.ConnectAsync();
        using SocketPair upstream = await SocketPair.ConnectAsync();
        Task<RelayResult> relay = StreamRelay.RunAsync(client.Inner, upstream.Inner, new StreamRelayOptions { Bytes = bytes }, CancellationToken.None);

        await client.Outer.SendAsync(new byte[3000]);
        client.Outer.Shutdown(SocketShutdown.Send);
        Assert.Equal(3000, (await SocketPair.ReadToEndAsync(upstream.Outer, Patience)).Length);
        await upstream.Outer.SendAsync(new byte[500]);
        upstream.Outer.Shutdown(SocketShutdown.Send);
        await SocketPair.ReadToEndAsync(client.Outer, Patience);
        await relay.WaitAsync(Patience);

        Assert.Equal(3000, seen["upstream"]);
        Assert.Equal(500, seen["downstream"]);
    }

    private static async Task<int> ReceiveExactlyAsync(Socket socket, int count)
    {
        using var timeout = new CancellationTokenSource(Patience);
        byte[] buffer = new byte[count];
        int received = 0;
        while (received < count)
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, timeout.Token);
            if (read == 0)
            {
                break;
            }

            received += read;
        }

        return received;
    }
}
