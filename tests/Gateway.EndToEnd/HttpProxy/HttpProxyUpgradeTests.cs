using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// HTTP/1.1 Upgrade (RFC 9110 §7.8) through the proxy: a raw-socket client asks a python WebSocket-style origin
/// (<see cref="WebSocketOrigin"/>) to switch protocols with an absolute-form request, as browsers and squid users do
/// for ws:// URLs, and the bytes of the new protocol are relayed both ways.
/// </summary>
public sealed class HttpProxyUpgradeTests : IAsyncLifetime
{
    private WebSocketOrigin _origin = null!;

    public async Task InitializeAsync() => _origin = await WebSocketOrigin.StartAsync();

    public async Task DisposeAsync() => await _origin.DisposeAsync();

    [Fact]
    public async Task Upgrade_WebSocketOrigin_Answers101ThenEchoesMebibyteAndPassesHalfClose()
    {
        await using var proxy = new ProxyHarness();
        using RawHttpConnection client = await RawHttpConnection.ConnectAsync(proxy.Port);
        string key = NewKey();

        await client.SendAsync(UpgradeRequest($"{_origin.Url}/ws", key));
        string head = await client.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 101 ", head);
        Assert.Equal("websocket", RawHttpConnection.FieldValue(head, "Upgrade"));
        Assert.Equal("upgrade", RawHttpConnection.FieldValue(head, "Connection"));
        Assert.Equal(Accept(key), RawHttpConnection.FieldValue(head, "Sec-WebSocket-Accept"));
        Assert.Equal("1.1 gateway", RawHttpConnection.FieldValue(head, "Via"));

        byte[] payload = RandomNumberGenerator.GetBytes(1024 * 1024);
        Task sending = client.SendAsync(payload);
        byte[] echoed = await client.ReadExactlyAsync(payload.Length);
        await sending;
        Assert.True(payload.AsSpan().SequenceEqual(echoed), "the echo differs from the bytes sent");

        // Half-close: our FIN reaches the origin, whose last echo and then its own close still reach us.
        await client.SendAsync("last words"u8.ToArray());
        client.Socket.Shutdown(SocketShutdown.Send);
        Assert.Equal("last words", Encoding.ASCII.GetString(await client.ReadToCloseAsync()));
    }

    [Fact]
    public async Task Upgrade_BytesSentBehindRequestHead_ReachOriginAfterSwitch()
    {
        await using var proxy = new ProxyHarness();
        using RawHttpConnection client = await RawHttpConnection.ConnectAsync(proxy.Port);

        // One write: the request head and the first bytes of the new protocol.
        await client.SendAsync(UpgradeRequest($"{_origin.Url}/ws", NewKey()) + "early bytes");
        string head = await client.ReadHeadAsync();
        client.Socket.Shutdown(SocketShutdown.Send);

        Assert.StartsWith("HTTP/1.1 101 ", head);
        Assert.Equal("early bytes", Encoding.ASCII.GetString(await client.ReadToCloseAsync()));
    }

    [Theory]
    [InlineData(426, "upgrade refused")]
    [InlineData(200, "no upgrade here")]
    public async Task Upgrade_OriginDoesNotSwitch_ClientGetsAnswerAndConnectionStaysUsable(int status, string body)
    {
        await using var proxy = new ProxyHarness();
        using RawHttpConnection client = await RawHttpConnection.ConnectAsync(proxy.Port);

        await client.SendAsync(UpgradeRequest($"{_origin.Url}/refuse/{status}", NewKey()));
        (string head, string answer) = await client.ReadResponseAsync();
        await client.SendAsync(PlainRequest($"{_origin.Url}/plain"));
        (string secondHead, string second) = await client.ReadResponseAsync();

        Assert.StartsWith($"HTTP/1.1 {status} ", head);
        Assert.Equal(body, answer);
        Assert.Null(RawHttpConnection.FieldValue(head, "Connection"));
        Assert.StartsWith("HTTP/1.1 200 ", secondHead);
        Assert.Equal("plain", second);
    }

    [Fact]
    public async Task Upgrade_AfterPlainRequestToSameOrigin_UsesNewOriginConnection()
    {
        await using var proxy = new ProxyHarness();
        using RawHttpConnection client = await RawHttpConnection.ConnectAsync(proxy.Port);

        await client.SendAsync(PlainRequest($"{_origin.Url}/plain"));
        (string plainHead, _) = await client.ReadResponseAsync();
        await client.SendAsync(UpgradeRequest($"{_origin.Url}/ws", NewKey()));
        string head = await client.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 200 ", plainHead);
        Assert.StartsWith("HTTP/1.1 101 ", head);
        // The first request on its origin connection: the kept one was not spent on the switch.
        Assert.Equal("1", RawHttpConnection.FieldValue(head, "X-Request-Number"));
    }

    [Fact]
    public async Task Upgrade_CacheableAnswer_IsNeitherStoredNorServedFromCache()
    {
        await using var proxy = new ProxyHarness();
        using RawHttpConnection client = await RawHttpConnection.ConnectAsync(proxy.Port);
        string url = $"{_origin.Url}/refuse/200";

        var served = new List<string?>();
        foreach (string request in (string[])[UpgradeRequest(url, NewKey()), UpgradeRequest(url, NewKey()), PlainRequest(url), PlainRequest(url)])
        {
            await client.SendAsync(request);
            (string head, _) = await client.ReadResponseAsync();
            served.Add(RawHttpConnection.FieldValue(head, "X-Served"));
        }

        // Both upgrade requests went to the origin; the plain ones show the response is cacheable otherwise.
        Assert.NotEqual(served[0], served[1]);
        Assert.NotEqual(served[1], served[2]);
        Assert.Equal(served[2], served[3]);
    }

    [Fact]
    public async Task Upgrade_Http10Client_IsForwardedWithoutUpgrade()
    {
        await using var proxy = new ProxyHarness();
        using RawHttpConnection client = await RawHttpConnection.ConnectAsync(proxy.Port);

        await client.SendAsync(UpgradeRequest($"{_origin.Url}/ws", NewKey(), version: "HTTP/1.0"));
        (string head, string body) = await client.ReadResponseAsync();

        // The origin saw no Upgrade field and said so.
        Assert.StartsWith("HTTP/1.1 400 ", head);
        Assert.StartsWith("upgrade None", body);
    }

    [Fact]
    public async Task SwitchingProtocols_ToPlainRequest_Returns502()
    {
        await using var proxy = new ProxyHarness();
        using RawHttpConnection client = await RawHttpConnection.ConnectAsync(proxy.Port);

        await client.SendAsync(PlainRequest($"{_origin.Url}/sneaky"));

        Assert.StartsWith("HTTP/1.1 502 ", await client.ReadHeadAsync());
    }

    [Fact]
    public async Task Upgrade_Switched_IsCountedAsUpgradeAnd101()
    {
        await using var proxy = new ProxyHarness();
        long upgrades = 0, switched = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == proxy.Meter)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "http_proxy.upgrades")
            {
                Interlocked.Add(ref upgrades, value);
            }
            else if (instrument.Name == "http_proxy.requests" && tags.Length == 1 && (int)tags[0].Value! == 101)
            {
                Interlocked.Add(ref switched, value);
            }
        });
        listener.Start();
        using RawHttpConnection client = await RawHttpConnection.ConnectAsync(proxy.Port);

        await client.SendAsync(UpgradeRequest($"{_origin.Url}/ws", NewKey()));
        await client.ReadHeadAsync();
        client.Socket.Shutdown(SocketShutdown.Send);
        await client.ReadToCloseAsync();

        Assert.Equal(1, Interlocked.Read(ref upgrades));
        Assert.Equal(1, Interlocked.Read(ref switched));
    }

    /// <summary>A WebSocket opening handshake (RFC 6455 §4.1) in absolute form, with hop-by-hop fields the proxy must drop.</summary>
    private static string UpgradeRequest(string url, string key, string version = "HTTP/1.1") =>
        $"GET {url} {version}\r\n" +
        "Host: 127.0.0.1\r\n" +
        "Connection: keep-alive, Upgrade, X-Hop\r\n" +
        "Keep-Alive: timeout=5\r\n" +
        "Proxy-Connection: keep-alive\r\n" +
        "X-Hop: secret\r\n" +
        "Upgrade: websocket\r\n" +
        $"Sec-WebSocket-Key: {key}\r\n" +
        "Sec-WebSocket-Version: 13\r\n\r\n";

    private static string PlainRequest(string url) => $"GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    private static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));

    /// <summary>RFC 6455 §4.2.2: base64(SHA-1(key + the protocol's GUID)).</summary>
    private static string Accept(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
}
