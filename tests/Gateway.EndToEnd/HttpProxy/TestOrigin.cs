using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// A local HTTP/1.1 origin on loopback (the BCL's HttpListener, which keeps connections alive):
/// <c>/bytes/N</c> and <c>/chunked/N</c> send N known bytes, <c>/sha256</c> answers the SHA-256 of
/// the uploaded body, <c>/hang</c> never answers. It records the client endpoint of every request.
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
