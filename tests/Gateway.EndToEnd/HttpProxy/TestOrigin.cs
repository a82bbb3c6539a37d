using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// A local HTTP/1.1 origin on loopback (the BCL's HttpListener, which keeps connections alive):
/// <c>/bytes/N</c> and <c>/chunked/N</c> send N known bytes, <c>/paced/N/R</c> the same N bytes at R bytes/s
/// (a rate-limited origin), <c>/sha256</c> answers the SHA-256 of the uploaded body, <c>/hang</c> never answers. It records the client endpoint of every request.
/// </summary>
internal sealed class TestOrigin : HttpListenerOrigin
{


    /// <summary>The remote endpoint (proxy side) of each request, in arrival order.</summary>
    public ConcurrentQueue<string> RequestSources { get; } = new();

    /// <summary>The N bytes served for /bytes/N (deterministic).</summary>
    public static byte[] Payload(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return bytes;
    }

    public static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>Writes <paramref name="body"/> in 64 KiB pieces, each no earlier than the rate allows.</summary>
    private async Task WritePacedAsync(HttpListenerResponse response, byte[] body, int bytesPerSecond)
    {
        const int Piece = 64 * 1024;
        response.ContentLength64 = body.Length;
        long started = Environment.TickCount64;
        for (int sent = 0; sent < body.Length; sent += Piece)
        {
            long due = started + (sent * 1000L / bytesPerSecond);
            if (due > Environment.TickCount64)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(due - Environment.TickCount64), Stopping);
            }

            await response.OutputStream.WriteAsync(body.AsMemory(sent, Math.Min(Piece, body.Length - sent)), Stopping);
        }
    }

    protected override async Task ServeAsync(HttpListenerContext context)
    {
        HttpListenerRequest request = context.Request;
        HttpListenerResponse response = context.Response;
        RequestSources.Enqueue(request.RemoteEndPoint.ToString());
        string path = request.Url!.AbsolutePath;
        try
        {
            if (path.StartsWith("/bytes/", StringComparison.Ordinal) || path.StartsWith("/chunked/", StringComparison.Ordinal))
            {
                byte[] body = Payload(int.Parse(path[(path.LastIndexOf('/') + 1)..]));
                if (path.StartsWith("/chunked/", StringComparison.Ordinal))
                {
                    response.SendChunked = true;
                }
                else
                {
                    response.ContentLength64 = body.Length;
                }

                await response.OutputStream.WriteAsync(body);
            }
            else if (path.StartsWith("/paced/", StringComparison.Ordinal))
            {
                string[] parts = path.Split('/');
                byte[] body = Payload(int.Parse(parts[2]));
                await WritePacedAsync(response, body, int.Parse(parts[3]));
            }
            else if (path == "/sha256")
            {
                using var sha = SHA256.Create();
                byte[] hash = await sha.ComputeHashAsync(request.InputStream);
                byte[] text = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(hash));
                response.ContentLength64 = text.Length;
                await response.OutputStream.WriteAsync(text);
            }
            else if (path == "/hang")
            {
                await Task.Delay(Timeout.Infinite, Stopping);
            }
            else
            {
                response.StatusCode = 404;
            }

            response.Close();
        }
        catch (Exception e) when (e is OperationCanceledException or HttpListenerException or IOException or ObjectDisposedException)
        {
            response.Abort();
        }
    }
}
