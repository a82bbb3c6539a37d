using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Wire;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Upstreams.Https;

/// <summary>
/// An https:// upstream (DNS over HTTPS, RFC 8484) on the BCL's HTTP/2 client: connections reused, many streams in
/// flight on each (more connections as needed), TLS verified exactly as for DoT (tlsName, caFile, spkiPins), the
/// host name resolved through <c>bootstrap</c>. Queries go as <c>GET ?dns=</c> (RFC 8484 §4.1: id 0, cacheable by
/// HTTP caches on the way) and switch to POST for good when the server refuses GET (405, 501) — "as the server
/// prefers". HTTP caching headers are ignored: the answer's own TTLs govern our cache.
/// </summary>
internal sealed class HttpsUpstream : DnsUpstream
{
    private static readonly MediaTypeHeaderValue DnsMessage = new("application/dns-message");
    private static readonly MediaTypeWithQualityHeaderValue AcceptDnsMessage = new("application/dns-message");

    // Longer queries go as POST: a URI of this length is safe with every server (RFC 9110 §4.1 recommends 8000).
    private const int MaxGetQueryBytes = 2048;

    private readonly HttpClient _client;
    private readonly Uri _uri;
    private readonly string _getPrefix;
    private readonly CancellationTokenSource _closing = new();
    private int _inFlight;
    private int _usePost;
    private int _closed;
    private int _warming;
    private long _warmedUntil;

    /// <summary>Creates the upstream; nothing connects until a query.</summary>
    public HttpsUpstream(string name, UpstreamAddress address, UpstreamEndpoint endpoint, DotTlsVerifier verifier, UpstreamSettings settings, DnsDotMetrics metrics, ILogger logger)
        : base(name, endpoint, settings, metrics, logger)
    {
        Verifier = verifier;
        _uri = address.RequestUri(verifier.TlsName);
        _getPrefix = _uri.AbsoluteUri + (_uri.Query.Length == 0 ? "?dns=" : "&dns=");
        SslClientAuthenticationOptions tls = verifier.Options;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = ConnectAsync,
            SslOptions = new SslClientAuthenticationOptions
            {
                EnabledSslProtocols = tls.EnabledSslProtocols,
                CertificateRevocationCheckMode = tls.CertificateRevocationCheckMode,
                RemoteCertificateValidationCallback = tls.RemoteCertificateValidationCallback,
                CertificateChainPolicy = tls.CertificateChainPolicy,
            },
            EnableMultipleHttp2Connections = true,
            MaxConnectionsPerServer = Math.Max(1, settings.MaxConnections),
            PooledConnectionIdleTimeout = settings.IdleTimeout,
            ConnectTimeout = settings.ConnectTimeout + settings.HandshakeTimeout,
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <inheritdoc/>
    public override string Protocol => "https";


    /// <summary>TLS identity checks.</summary>
    public DotTlsVerifier Verifier { get; }

    /// <summary>True once the server refused GET: every query goes as POST.</summary>
    public bool UsesPost => Volatile.Read(ref _usePost) == 1;

    /// <inheritdoc/>
    /// <remarks>HttpClient keeps its connections to itself: this is the requests in flight.</remarks>
    public override int OpenConnections => Volatile.Read(ref _inFlight);

    /// <inheritdoc/>
    public override bool IsClosed => Volatile.Read(ref _closed) == 1;

    /// <inheritdoc/>
    /// <remarks>Each request carries its own deadline.</remarks>
    public override void Sweep(long now)
    {
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Keeps a connection warm (<c>minConnections</c> above 0): the first exchange of a new HttpClient pays for the
    /// TLS and HTTP/2 set-up (and, once per process, their JIT) — over a second on a loaded machine, more than an attempt
    /// may take — so it is paid here, off the query path, as DoT pools are pre-warmed.
    /// </remarks>
    public override void Maintain(CancellationToken cancellationToken)
    {
        Endpoint.Refresh(this, Logger, cancellationToken);
        if (Settings.MinConnections > 0 && !IsClosed && Stopwatch.GetTimestamp() >= Volatile.Read(ref _warmedUntil) &&
            Health.IsAvailable(Stopwatch.GetTimestamp()) && Interlocked.Exchange(ref _warming, 1) == 0)
        {
            _ = WarmAsync(cancellationToken);
        }
    }

    /// <inheritdoc/>
    public override void Close(string reason = "stopping")
    {
        if (Interlocked.Exchange(ref _closed, 1) == 1)
        {
            return;
        }

        // Requests in flight end with a cancellation and fail over (their attempt ends in OnFailure).
        _closing.Cancel();
        _client.Dispose();
    }

    /// <inheritdoc/>
    protected override void Dispatch(UpstreamQuery query, bool freshConnection)
    {
        if (IsClosed)
        {
            OnFailure(query, "upstream closed (stopping or removed by a configuration reload)");
            return;
        }

        Interlocked.Increment(ref _inFlight);
        _ = ExchangeAsync(query);
    }

    private async Task ExchangeAsync(UpstreamQuery query)
    {
        byte[]? answer = null;
        string? failure = null;
        try
        {
            // RFC 8484 §4.1: id 0 (the frame may carry another id from an earlier attempt over UDP).
            BinaryPrimitives.WriteUInt16BigEndian(query.Frame.AsSpan(2), 0);
            long remaining = query.AttemptDeadline - Stopwatch.GetTimestamp();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(Math.Max(remaining, 0) / (double)Stopwatch.Frequency));
            HttpResponseMessage response = await SendAsync(query, post: UsesPost || query.FrameLength - 2 > MaxGetQueryBytes, timeout.Token).ConfigureAwait(false);
            if (response.StatusCode is HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented && !UsesPost)
            {
                response.Dispose();
                Volatile.Write(ref _usePost, 1);
                response = await SendAsync(query, post: true, timeout.Token).ConfigureAwait(false);
            }

            using (response)
            {
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    if (ShouldLog($"HTTP {(int)response.StatusCode}"))
                    {
                        DnsDotLog.HttpStatus(Logger, Name, (int)response.StatusCode);
                    }

                    failure = $"HTTP {(int)response.StatusCode}";
                    return;
                }

                if (response.Content.Headers.ContentType?.MediaType is not "application/dns-message")
                {
                    failure = $"answer of type {response.Content.Headers.ContentType?.MediaType ?? "(none)"}, not application/dns-message";
                    return;
                }

                answer = ArrayPool<byte>.Shared.Rent(ushort.MaxValue + 1);
                int length = await ReadBodyAsync(response, answer, timeout.Token).ConfigureAwait(false);
                if (length < DnsConstants.HeaderSize || BinaryPrimitives.ReadUInt16BigEndian(answer) != 0 ||
                    !DnsMessageReader.TryScanResponse(answer.AsSpan(0, length), query.Name, query.Info.QType, Span<int>.Empty, out DnsResponseInfo info))
                {
                    CountUnmatched(length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(answer) : (ushort)0);
                    failure = "answer does not match the question";
                    return;
                }

                Volatile.Write(ref _warmedUntil, Stopwatch.GetTimestamp() + (long)(Settings.IdleTimeout.TotalSeconds * Stopwatch.Frequency));
                OnAnswer(query, answer.AsSpan(0, length), info);
            }
        }
        catch (OperationCanceledException)
        {
            failure = IsClosed ? "upstream closed (stopping or removed by a configuration reload)" : "no answer in time";
        }
        catch (HttpRequestException e)
        {
            failure = Describe(e);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidDataException)
        {
            failure = e.Message;
        }
        finally
        {
            if (answer is not null)
            {
                ArrayPool<byte>.Shared.Return(answer);
            }

            Interlocked.Decrement(ref _inFlight);
            if (failure is not null)
            {
                OnFailure(query, failure);
            }
        }
    }

    // One exchange asking for the root's NS (any answer, even an error, proves the connection); again only when no query
    // went out for the pool's idle timeout, after which HttpClient has closed the unused connection.
    private async Task WarmAsync(CancellationToken cancellationToken)
    {
        try
        {
            byte[] query = new byte[Wire.DnsQueryWriter.MaxQuerySize];
            int length = WriteRootQuery(query);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
            timeout.CancelAfter(Settings.ConnectTimeout + Settings.HandshakeTimeout);
            using HttpResponseMessage response = await SendAsync(query.AsMemory(0, length), post: UsesPost, timeout.Token).ConfigureAwait(false);
            await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            Volatile.Write(ref _warmedUntil, Stopwatch.GetTimestamp() + (long)(Settings.IdleTimeout.TotalSeconds * Stopwatch.Frequency));
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // A query will find out (and report) what is wrong; try warming again in a few seconds.
            Volatile.Write(ref _warmedUntil, Stopwatch.GetTimestamp() + (5 * Stopwatch.Frequency));
        }
        finally
        {
            Volatile.Write(ref _warming, 0);
        }
    }

    private static int WriteRootQuery(byte[] destination)
    {
        // Header (id 0, RD), the root name, NS, IN: 17 bytes.
        destination.AsSpan(0, 17).Clear();
        destination[2] = DnsConstants.FlagRd >> 8;
        destination[5] = 1;
        destination[14] = 2;
        destination[16] = 1;
        return 17;
    }

    private Task<HttpResponseMessage> SendAsync(UpstreamQuery query, bool post, CancellationToken cancellationToken) =>
        SendAsync(query.Frame.AsMemory(2, query.FrameLength - 2), post, cancellationToken);

    private Task<HttpResponseMessage> SendAsync(ReadOnlyMemory<byte> message, bool post, CancellationToken cancellationToken)
    {
        HttpRequestMessage request;
        if (post)
        {
            request = new HttpRequestMessage(HttpMethod.Post, _uri) { Content = new ReadOnlyMemoryContent(message) };
            request.Content.Headers.ContentType = DnsMessage;
        }
        else
        {
            // RFC 8484 §4.1: base64url without padding.
            request = new HttpRequestMessage(HttpMethod.Get, _getPrefix + Base64Url.EncodeToString(message.Span));
        }

        // HTTP/2 (RFC 8484 §5.2 recommends it), HTTP/1.1 when the server has only that: set per request, as a message
        // built by hand does not take the client's defaults.
        request.Version = HttpVersion.Version20;
        request.VersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
        request.Headers.Accept.Add(AcceptDnsMessage);
        return _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    private static async Task<int> ReadBodyAsync(HttpResponseMessage response, byte[] buffer, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength is > ushort.MaxValue)
        {
            throw new InvalidDataException($"an answer of {response.Content.Headers.ContentLength} bytes (at most 65,535)");
        }

        Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            int length = 0;
            while (true)
            {
                int read = await body.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return length;
                }

                length += read;
                if (length > ushort.MaxValue)
                {
                    throw new InvalidDataException("an answer over 65,535 bytes");
                }
            }
        }
    }

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        await Endpoint.EnsureResolvedAsync(this, Logger, cancellationToken).ConfigureAwait(false);
        IPEndPoint endpoint = Endpoint.Current ?? throw new HttpRequestException($"{Endpoint.Host} has no address yet (bootstrap resolution failed)");
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            Settings.ProtectSocket(socket);
            await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            OnConnectFailure(e is OperationCanceledException ? $"connect timed out after {Settings.ConnectTimeout.TotalMilliseconds:0} ms" : e.Message);
            throw;
        }

        OnConnected();
        return new NetworkStream(socket, ownsSocket: true);
    }

    // The TLS refusal in the verifier's words ("certificate name mismatch (expected …)"), else the innermost message.
    private string Describe(HttpRequestException e)
    {
        Exception inner = e;
        while (inner.InnerException is not null)
        {
            if (inner is AuthenticationException)
            {
                break;
            }

            inner = inner.InnerException;
        }

        if (inner is AuthenticationException)
        {
            string reason = Verifier.LastRefusal ?? $"TLS handshake failed: {inner.Message}";
            OnTlsFailure(reason);
            return reason;
        }

        return inner.Message;
    }
}
