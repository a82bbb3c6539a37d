using System.Collections.Concurrent;
using System.Net;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// A local HTTP/1.1 origin (HttpListener on loopback) whose resources a test defines: body, extra response
/// fields and an optional ETag (a "Transfer-Encoding" field makes the body chunked). A GET whose If-None-Match matches the current ETag gets 304 (RFC 9110
/// §13.1.2); any other method gets 200 "ok". It counts requests by method and path and keeps the last
/// request's fields, so a test sees exactly what reached the origin through the proxy's cache. A path can be made
/// slow (<see cref="Delay"/>): each request for it waits that long before the origin answers.
/// </summary>
internal sealed class CachingOrigin : HttpListenerOrigin
{
    private readonly ConcurrentDictionary<string, Resource> _resources = new();
    private readonly ConcurrentDictionary<string, int> _counts = new();
    private readonly ConcurrentDictionary<string, TimeSpan> _delays = new();

    /// <summary>The fields of the last request that reached the origin for each path.</summary>
    public ConcurrentDictionary<string, WebHeaderCollection> LastRequestHeaders { get; } = new();

    /// <summary>Defines (or changes) what <paramref name="path"/> serves.</summary>
    public void Set(string path, byte[] body, string? etag = null, params (string Name, string Value)[] fields) =>
        _resources[path] = new Resource(body, etag, fields);

    /// <summary>Makes every request for <paramref name="path"/> wait <paramref name="delay"/> before it is answered (a slow origin).</summary>
    public void Delay(string path, TimeSpan delay) => _delays[path] = delay;

    /// <summary>How many <paramref name="method"/> requests for <paramref name="path"/> reached the origin.</summary>
    public int Count(string method, string path) => _counts.GetValueOrDefault($"{method} {path}");

    protected override async Task ServeAsync(HttpListenerContext context)
    {
        HttpListenerRequest request = context.Request;
        HttpListenerResponse response = context.Response;
        string path = request.Url!.AbsolutePath;
        _counts.AddOrUpdate($"{request.HttpMethod} {path}", 1, static (_, n) => n + 1);
        LastRequestHeaders[path] = (WebHeaderCollection)request.Headers;
        try
        {
            if (_delays.TryGetValue(path, out TimeSpan delay))
            {
                await Task.Delay(delay, Stopping);
            }

            if (request.HttpMethod is not ("GET" or "HEAD"))
            {
                await request.InputStream.CopyToAsync(Stream.Null);
                byte[] ok = "ok"u8.ToArray();
                response.ContentLength64 = ok.Length;
                await response.OutputStream.WriteAsync(ok);
            }
            else if (_resources.TryGetValue(path, out Resource? resource))
            {
                bool chunked = false;
                foreach ((string name, string value) in resource.Fields)
                {
                    if (name == "Transfer-Encoding")
                    {
                        chunked = true;
                        continue;
                    }

                    response.AddHeader(name, value);
                }

                if (resource.ETag is not null)
                {
                    response.AddHeader("ETag", resource.ETag);
                }

                if (resource.ETag is not null && request.Headers["If-None-Match"] == resource.ETag)
                {
                    response.StatusCode = 304;
                }
                else
                {
                    if (chunked)
                    {
                        response.SendChunked = true;
                    }
                    else
                    {
                        response.ContentLength64 = resource.Body.Length;
                    }

                    if (request.HttpMethod == "GET")
                    {
                        await response.OutputStream.WriteAsync(resource.Body);
                    }
                }
            }
            else
            {
                response.StatusCode = 404;
                response.AddHeader("Cache-Control", "no-store");
            }

            response.Close();
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            response.Abort();
        }
    }

    private sealed record Resource(byte[] Body, string? ETag, (string Name, string Value)[] Fields);
}
