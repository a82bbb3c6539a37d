using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.EndToEnd.DnsDot.Filtering;

/// <summary>
/// A local HTTP server for list subscriptions (the BCL's HttpListener on a free loopback port): serves the files
/// a test puts in <see cref="Files"/>, with an ETag and 304 answers to If-None-Match as list servers do, and
/// counts requests. Changing a file changes what the next download gets.
/// </summary>
internal sealed class ListServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private int _requests;
    private int _notModified;

    public ListServer()
    {
        Port = Kdig.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    /// <summary>Path (without the leading '/') → content.</summary>
    public ConcurrentDictionary<string, string> Files { get; } = new();

    public int Requests => Volatile.Read(ref _requests);

    public int NotModified => Volatile.Read(ref _notModified);

    public string Url(string path) => $"http://127.0.0.1:{Port}/{path}";

    public async ValueTask DisposeAsync()
    {
        _listener.Close();
        await _loop;
    }

    private async Task LoopAsync()
    {
        while (true)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            Interlocked.Increment(ref _requests);
            using HttpListenerResponse response = context.Response;
            string path = context.Request.Url!.AbsolutePath.TrimStart('/');
            if (!Files.TryGetValue(path, out string? content))
            {
                response.StatusCode = 404;
                continue;
            }

            byte[] body = Encoding.UTF8.GetBytes(content);
            string etag = "\"" + Convert.ToHexString(SHA256.HashData(body))[..16] + "\"";
            response.Headers["ETag"] = etag;
            if (context.Request.Headers["If-None-Match"] == etag)
            {
                Interlocked.Increment(ref _notModified);
                response.StatusCode = 304;
                continue;
            }

            response.ContentType = "text/plain";
            response.ContentLength64 = body.Length;
            try
            {
                await response.OutputStream.WriteAsync(body);
            }
            catch (HttpListenerException)
            {
                // The client went away.
            }
        }
    }
}
