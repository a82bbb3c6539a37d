using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// A raw HTTP/1.1 origin on loopback that records every byte each connection brings and every request it reads
/// from them (by Content-Length or chunked framing, as a strict origin would), and answers each request with a
/// canned response: by default 200 with the request's path as the body. It shows exactly what a proxy let through,
/// and on which connection (a smuggled request shows up as a request of its own).
/// </summary>
internal sealed class RecordingOrigin : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private int _connections;

    public RecordingOrigin(IPAddress? address = null)
    {
        _listener.Bind(new IPEndPoint(address ?? IPAddress.Loopback, 0));
        _listener.Listen(64);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        Authority = $"{(address ?? IPAddress.Loopback)}:{Port}";
        _accept = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>"127.0.0.1:port".</summary>
    public string Authority { get; }

    /// <summary>Every request read: connection number (1-based, in accept order), request line, whole request bytes.</summary>
    public ConcurrentQueue<(int Connection, string RequestLine, string Raw)> Requests { get; } = new();

    /// <summary>Bytes received per connection number (what reached the origin, framed or not).</summary>
    public ConcurrentDictionary<int, string> Received { get; } = new();

    /// <summary>Total bytes received on every connection.</summary>
    public int BytesReceived => Received.Values.Sum(text => text.Length);

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>
    /// Overrides the answer to requests for a path: the complete response bytes to send (head and body exactly as
    /// written, which lets a test send a malformed response).
    /// </summary>
    public ConcurrentDictionary<string, string> Responses { get; } = new();

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            int number = Interlocked.Increment(ref _connections);
            _ = ServeAsync(socket, number);
        }
    }

    private async Task ServeAsync(Socket socket, int number)
    {
        using (socket)
        {
            var buffer = new List<byte>();
            var chunk = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    int n = await socket.ReceiveAsync(chunk, SocketFlags.None, _stop.Token);
                    if (n == 0)
                    {
                        return;
                    }

                    Received.AddOrUpdate(number, Encoding.Latin1.GetString(chunk, 0, n), (_, old) => old + Encoding.Latin1.GetString(chunk, 0, n));
                    buffer.AddRange(chunk.AsSpan(0, n));
                    while (TryTakeRequest(buffer, out string raw))
                    {
                        string requestLine = raw[..raw.IndexOf("\r\n", StringComparison.Ordinal)];
                        Requests.Enqueue((number, requestLine, raw));
                        string path = requestLine.Split(' ')[1];
                        string response = Responses.TryGetValue(path, out string? canned)
                            ? canned
                            : $"HTTP/1.1 200 OK\r\nContent-Length: {path.Length}\r\n\r\n{path}";
                        await socket.SendAsync(Encoding.Latin1.GetBytes(response), SocketFlags.None, _stop.Token);
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The proxy closed the connection, or the test ended.
            }
        }
    }

    /// <summary>Takes one whole request (head plus its Content-Length or chunked body) off the front of the buffer.</summary>
    private static bool TryTakeRequest(List<byte> buffer, out string raw)
    {
        raw = string.Empty;
        string text = Encoding.Latin1.GetString([.. buffer]);
        int headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (headEnd < 0)
        {
            return false;
        }

        string head = text[..(headEnd + 4)];
        int end = headEnd + 4;
        string? length = RawHttpConnection.FieldValue(head, "Content-Length");
        if (RawHttpConnection.FieldValue(head, "Transfer-Encoding") is { } coding && coding.EndsWith("chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (true)
            {
                int lineEnd = text.IndexOf("\r\n", end, StringComparison.Ordinal);
                if (lineEnd < 0)
                {
                    return false;
                }

                int size = Convert.ToInt32(text[end..lineEnd].Split(';')[0], 16);
                end = lineEnd + 2;
                if (size == 0)
                {
                    int trailerEnd = text.IndexOf("\r\n\r\n", end - 2, StringComparison.Ordinal);
                    if (trailerEnd < 0)
                    {
                        return false;
                    }

                    end = trailerEnd + 4;
                    break;
                }

                end += size + 2;
                if (end > text.Length)
                {
                    return false;
                }
            }
        }
        else if (length is not null)
        {
            end += int.Parse(length);
            if (end > text.Length)
            {
                return false;
            }
        }

        raw = text[..end];
        buffer.RemoveRange(0, end);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        await _accept;
        _stop.Dispose();
    }
}
