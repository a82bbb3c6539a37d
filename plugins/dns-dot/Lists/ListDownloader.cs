using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>
/// Downloads lists over http(s) through the gateway's own protected sockets (<c>IPluginContext.ProtectSocket</c>:
/// marked so policy routing never sends them into the gateway's TUN, as its DoT upstream sockets are), with a
/// conditional GET (ETag / If-Modified-Since, RFC 9110 §13), a size cap and an end-to-end timeout. One shared
/// <see cref="HttpClient"/> per plugin (connection reuse for lists on the same server), made on the first download:
/// a gateway without list URLs never loads System.Net.Http (~1.5 MB of idle RSS).
/// </summary>
internal sealed class ListDownloader : IDisposable
{
    private readonly Action<Socket> _protectSocket;
    private HttpClient? _client;

    public ListDownloader(Action<Socket> protectSocket) => _protectSocket = protectSocket;

    private HttpClient Client => LazyInitializer.EnsureInitialized(ref _client, () => CreateClient(_protectSocket));

    private static HttpClient CreateClient(Action<Socket> protectSocket)
    {
        var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.All,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            UseProxy = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                // The system resolver finds the list server's addresses; the connection itself is ours and protected.
                IPAddress[] addresses = IPAddress.TryParse(context.DnsEndPoint.Host, out IPAddress? literal)
                    ? [literal]
                    : await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, cancellationToken).ConfigureAwait(false);
                Exception? last = null;
                foreach (IPAddress address in addresses)
                {
                    var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    try
                    {
                        protectSocket(socket);
                        await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch (Exception e) when (e is SocketException or IOException)
                    {
                        socket.Dispose();
                        last = e;
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                }

                throw last ?? new SocketException((int)SocketError.HostNotFound);
            },
        };
        var client = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("gateway-dns-dot", "1"));
        return client;
    }

    /// <summary>
    /// Downloads <paramref name="url"/> into <paramref name="temporaryFile"/> unless it is unchanged since
    /// <paramref name="etag"/> / <paramref name="lastModified"/>. Throws <see cref="ListDownloadException"/> with a
    /// one-line reason (status, size cap, timeout, network error).
    /// </summary>
    public async Task<DownloadResult> DownloadAsync(Uri url, string? etag, DateTimeOffset? lastModified, long maxBytes, TimeSpan timeout, string temporaryFile, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (etag is not null && EntityTagHeaderValue.TryParse(etag, out EntityTagHeaderValue? tag))
        {
            request.Headers.IfNoneMatch.Add(tag);
        }
        else if (lastModified is { } since)
        {
            request.Headers.IfModifiedSince = since;
        }

        try
        {
            using HttpResponseMessage response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotModified)
            {
                return new DownloadResult(NotModified: true, etag, lastModified, 0);
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new ListDownloadException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            if (response.Content.Headers.ContentLength is { } declared && declared > maxBytes)
            {
                throw new ListDownloadException($"the list is {declared} bytes, above maxSizeMB ({maxBytes / (1024 * 1024)} MiB)");
            }

            long total = 0;
            await using (Stream body = await response.Content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false))
            await using (var file = new FileStream(temporaryFile, FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
            {
                byte[] buffer = new byte[64 * 1024];
                int read;
                while ((read = await body.ReadAsync(buffer, deadline.Token).ConfigureAwait(false)) > 0)
                {
                    total += read;
                    if (total > maxBytes)
                    {
                        throw new ListDownloadException($"the list is larger than maxSizeMB ({maxBytes / (1024 * 1024)} MiB)");
                    }

                    await file.WriteAsync(buffer.AsMemory(0, read), deadline.Token).ConfigureAwait(false);
                }
            }

            return new DownloadResult(NotModified: false, response.Headers.ETag?.ToString(), response.Content.Headers.LastModified, total);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ListDownloadException($"no complete answer within {timeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException e)
        {
            throw new ListDownloadException(e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message);
        }
        catch (IOException e)
        {
            throw new ListDownloadException(e.Message);
        }
    }

    public void Dispose() => _client?.Dispose();

    /// <summary>The outcome of a download.</summary>
    internal sealed record DownloadResult(bool NotModified, string? ETag, DateTimeOffset? LastModified, long Bytes);
}

/// <summary>A list download failed; the message is the one-line reason shown in logs, the API and metrics.</summary>
internal sealed class ListDownloadException(string message) : Exception(message);
