using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// A download through a proxy that is held mid-way: the client reads its first 256 KiB and stops, so the rest of the
/// body is still in flight while the test changes the proxy; then it reads to the end and checks every byte.
/// </summary>
internal sealed class HeldDownload : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly MemoryStream _received = new();
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly int _length;

    private HeldDownload(int length) => _length = length;

    /// <summary>Asks the proxy on 127.0.0.1:<paramref name="proxyPort"/> for <paramref name="length"/> bytes of <paramref name="origin"/> and reads the first 256 KiB.</summary>
    public static async Task<HeldDownload> StartAsync(int proxyPort, TestOrigin origin, int length)
    {
        var download = new HeldDownload(length);
        await download._socket.ConnectAsync(IPAddress.Loopback, proxyPort);
        await download._socket.SendAsync(Encoding.ASCII.GetBytes(
            $"GET {origin.Url}/bytes/{length} HTTP/1.1\r\nHost: 127.0.0.1:{origin.Port}\r\nConnection: close\r\n\r\n"), SocketFlags.None);
        while (download._received.Length < 256 * 1024)
        {
            int n = await download._socket.ReceiveAsync(download._buffer, SocketFlags.None);
            Assert.True(n > 0, "the proxy closed the download before the change");
            download._received.Write(download._buffer, 0, n);
        }

        return download;
    }

    /// <summary>Reads the rest and asserts a 200 with exactly the origin's bytes.</summary>
    public async Task FinishIntactAsync()
    {
        int read;
        while ((read = await _socket.ReceiveAsync(_buffer, SocketFlags.None)) > 0)
        {
            _received.Write(_buffer, 0, read);
        }

        byte[] all = _received.ToArray();
        int headEnd = all.AsSpan().IndexOf("\r\n\r\n"u8) + 4;
        Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(all, 0, headEnd), StringComparison.Ordinal);
        Assert.Equal(_length, all.Length - headEnd);
        Assert.Equal(SHA256.HashData(TestOrigin.Payload(_length)), SHA256.HashData(all.AsSpan(headEnd)));
    }

    public void Dispose()
    {
        _socket.Dispose();
        _received.Dispose();
    }
}
