using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// A client connection to the proxy driven byte by byte: heads and bodies are read exactly as they arrive, and
/// whatever follows a head stays buffered for the next read (so nothing sent behind a head is lost to the test).
/// Every read gives up after 30 s.
/// </summary>
internal sealed class RawHttpConnection : IDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(30);
    private readonly byte[] _buffer = new byte[256 * 1024];
    private int _start;
    private int _end;

    private RawHttpConnection(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    public static async Task<RawHttpConnection> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, port);
        return new RawHttpConnection(socket);
    }

    /// <summary>Sends all of <paramref name="data"/>.</summary>
    public async Task SendAsync(ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            data = data[await Socket.SendAsync(data, SocketFlags.None)..];
        }
    }

    public Task SendAsync(string text) => SendAsync(Encoding.ASCII.GetBytes(text));

    /// <summary>Reads one head (through its empty line) as ASCII; the bytes behind it stay buffered.</summary>
    public async Task<string> ReadHeadAsync()
    {
        while (true)
        {
            int end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                string head = Encoding.ASCII.GetString(_buffer, _start, end + 4);
                _start += end + 4;
                return head;
            }

            if (await FillAsync() == 0)
            {
                throw new EndOfStreamException($"connection closed inside a head: '{Encoding.ASCII.GetString(_buffer, _start, _end - _start)}'");
            }
        }
    }

    /// <summary>Reads a response with a Content-Length body: the head, then the body as ASCII.</summary>
    public async Task<(string Head, string Body)> ReadResponseAsync()
    {
        string head = await ReadHeadAsync();
        string? length = FieldValue(head, "Content-Length");
        byte[] body = await ReadExactlyAsync(length is null ? 0 : int.Parse(length));
        return (head, Encoding.ASCII.GetString(body));
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes.</summary>
    public async Task<byte[]> ReadExactlyAsync(int count)
    {
        byte[] result = new byte[count];
        int filled = 0;
        while (filled < count)
        {
            if (_end == _start && await FillAsync() == 0)
            {
                throw new EndOfStreamException($"connection closed after {filled} of {count} bytes");
            }

            int take = Math.Min(count - filled, _end - _start);
            _buffer.AsSpan(_start, take).CopyTo(result.AsSpan(filled));
            _start += take;
            filled += take;
        }

        return result;
    }

    /// <summary>Reads until the peer closes; the bytes that came before the close.</summary>
    public async Task<byte[]> ReadToCloseAsync()
    {
        var received = new MemoryStream();
        do
        {
            received.Write(_buffer, _start, _end - _start);
            _start = _end;
        }
        while (await FillAsync() > 0);

        return received.ToArray();
    }

    /// <summary>The value of the first field named <paramref name="name"/> in <paramref name="head"/>, or null.</summary>
    public static string? FieldValue(string head, string name)
    {
        foreach (string line in head.Split("\r\n"))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line.AsSpan(0, colon).Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return null;
    }

    private async Task<int> FillAsync()
    {
        if (_start == _end)
        {
            _start = 0;
            _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        using var timeout = new CancellationTokenSource(ReadTimeout);
        int received = await Socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, timeout.Token);
        _end += received;
        return received;
    }

    public void Dispose() => Socket.Dispose();
}
