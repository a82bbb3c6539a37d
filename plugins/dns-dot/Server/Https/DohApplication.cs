using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.IO.Pipelines;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Networking;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Gateway.Plugins.DnsDot.Server.Https;

/// <summary>
/// DNS over HTTPS (RFC 8484) on Kestrel, on the request features directly (no HttpContext): <c>GET /dns-query?dns=</c>
/// with the query in base64url without padding (§4.1), and <c>POST /dns-query</c> with an
/// <c>application/dns-message</c> body; the answer as <c>application/dns-message</c> with
/// <c>Cache-Control: max-age</c> set to the smallest TTL of the answer (§5.1). The query goes through the same
/// admission (ACL, rate limit: REFUSED in a 200, as on every transport) and the same resolver as UDP and TCP.
/// HTTP errors: 400 (no or undecodable query), 404 (another path), 405 (another method), 413 (over 65,535 bytes),
/// 415 (another content type).
/// </summary>
internal sealed class DohApplication : IHttpApplication<IFeatureCollection>
{
    /// <summary>RFC 8484 §4.1's example path, which every client defaults to.</summary>
    public const string Path = "/dns-query";

    private const string DnsMessage = "application/dns-message";
    private const int MaxMessage = ushort.MaxValue;

    // "max-age=N" for the common TTLs, so most responses allocate no header string.
    private static readonly string[] MaxAgeText = CreateMaxAgeText(3600);

    [ThreadStatic]
    private static byte[]? t_scratch;

    private readonly DnsResolver _resolver;
    private readonly ClientGate _gate;
    private readonly ServingMetrics _metrics;

    /// <summary>Creates the application.</summary>
    public DohApplication(DnsResolver resolver, ClientGate gate, ServingMetrics metrics)
    {
        _resolver = resolver;
        _gate = gate;
        _metrics = metrics;
    }

    /// <inheritdoc/>
    public IFeatureCollection CreateContext(IFeatureCollection contextFeatures) => contextFeatures;

    /// <inheritdoc/>
    public void DisposeContext(IFeatureCollection context, Exception? exception)
    {
    }

    /// <inheritdoc/>
    public async Task ProcessRequestAsync(IFeatureCollection features)
    {
        IHttpRequestFeature request = features.Get<IHttpRequestFeature>()!;
        IHttpResponseFeature response = features.Get<IHttpResponseFeature>()!;
        if (!string.Equals(request.Path, Path, StringComparison.Ordinal))
        {
            Error(response, 404);
            return;
        }

        byte[] query = ArrayPool<byte>.Shared.Rent(MaxMessage);
        try
        {
            int length;
            if (HttpMethodIs(request.Method, "GET"))
            {
                length = DecodeGet(request.QueryString, query);
                if (length < 0)
                {
                    Error(response, 400);
                    return;
                }
            }
            else if (HttpMethodIs(request.Method, "POST"))
            {
                string? type = request.Headers.ContentType;
                if (type is null || !type.StartsWith(DnsMessage, StringComparison.OrdinalIgnoreCase))
                {
                    Error(response, 415);
                    return;
                }

                length = await ReadBodyAsync(features.Get<IRequestBodyPipeFeature>()!.Reader, query).ConfigureAwait(false);
                if (length < 0)
                {
                    Error(response, 413);
                    return;
                }
            }
            else
            {
                response.Headers.Allow = "GET, POST";
                Error(response, 405);
                return;
            }

            await AnswerAsync(features, response, query, length).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(query);
        }
    }

    private async Task AnswerAsync(IFeatureCollection features, IHttpResponseFeature response, byte[] query, int length)
    {
        if (length < DnsConstants.HeaderSize || (query[2] & (DnsConstants.FlagQr >> 8)) != 0)
        {
            // Not a DNS query at all: an HTTP error, not a DNS one (there is no id to answer).
            Error(response, 400);
            return;
        }

        NetAddress client = ClientOf(features);
        byte[] scratch = t_scratch ??= new byte[DnsResolver.MaxMessageSize];
        AdmissionResult admission = _gate.Admit(client, DnsTransport.Https);
        if (admission != AdmissionResult.Allow)
        {
            int refusal = AdmissionAnswer.Write(query.AsSpan(0, length), admission, scratch);
            if (refusal == 0)
            {
                Error(response, 400);
                return;
            }

            await WriteAnswerAsync(features, response, scratch, refusal, query.AsSpan(0, length)).ConfigureAwait(false);
            return;
        }

        ResolveStep step = _resolver.Begin(query.AsSpan(0, length), client, DnsTransport.Https, ushort.MaxValue, scratch, out int answerLength, out PendingQuery pending);
        switch (step)
        {
            case ResolveStep.Answered:
                await WriteAnswerAsync(features, response, scratch, answerLength, query.AsSpan(0, length)).ConfigureAwait(false);
                return;
            case ResolveStep.Drop:
                // A rule said Drop: end the stream without an answer (RST_STREAM on HTTP/2), as close to silence as
                // HTTP allows.
                Drop(features);
                return;
        }

        AnswerWaiter waiter = AnswerWaiter.Rent();
        try
        {
            UpstreamQuery upstream = _resolver.CreateQuery(query.AsSpan(0, length), pending, waiter, pending.Started);
            ValueTask answered = waiter.WaitAsync();
            _resolver.Forward(upstream);
            await answered.ConfigureAwait(false);
            await WriteAnswerAsync(features, response, waiter.Buffer, waiter.Length, query.AsSpan(0, length)).ConfigureAwait(false);
        }
        finally
        {
            waiter.Return();
        }
    }

    private static ValueTask<FlushResult> WriteAnswerAsync(IFeatureCollection features, IHttpResponseFeature response, byte[] answer, int length, ReadOnlySpan<byte> query)
    {
        response.StatusCode = 200;
        IHeaderDictionary headers = response.Headers;
        headers.ContentType = DnsMessage;
        headers.ContentLength = length;
        headers.CacheControl = MaxAge(answer.AsSpan(0, length), query);
        return features.Get<IHttpResponseBodyFeature>()!.Writer.WriteAsync(answer.AsMemory(0, length));
    }

    // RFC 8484 §5.1: the freshness lifetime must not exceed the smallest TTL in the answer (or the negative TTL).
    private static string MaxAge(ReadOnlySpan<byte> answer, ReadOnlySpan<byte> query)
    {
        uint ttl = 0;
        if (DnsMessageReader.TryParseQuery(query, out DnsRequestInfo info) == DnsParseStatus.Ok &&
            DnsMessageReader.TryScanResponse(answer, query.Slice(DnsConstants.HeaderSize, info.NameLength), info.QType, Span<int>.Empty, out DnsResponseInfo response))
        {
            ttl = response.CacheTtl;
        }

        return ttl < (uint)MaxAgeText.Length ? MaxAgeText[ttl] : "max-age=" + ttl.ToString(CultureInfo.InvariantCulture);
    }

    // RFC 8484 §4.1: the dns parameter, base64url without padding (padding is tolerated).
    private static int DecodeGet(string? queryString, byte[] destination)
    {
        ReadOnlySpan<char> text = queryString is { Length: > 1 } ? queryString.AsSpan(1) : default;
        while (!text.IsEmpty)
        {
            int amp = text.IndexOf('&');
            ReadOnlySpan<char> parameter = amp < 0 ? text : text[..amp];
            text = amp < 0 ? default : text[(amp + 1)..];
            if (!parameter.StartsWith("dns=", StringComparison.Ordinal))
            {
                continue;
            }

            ReadOnlySpan<char> value = parameter[4..].TrimEnd('=');
            if (Base64Url.GetMaxDecodedLength(value.Length) > destination.Length)
            {
                return -1;
            }

            return Base64Url.DecodeFromChars(value, destination, out _, out int written) == OperationStatus.Done ? written : -1;
        }

        return -1;
    }

    // The POST body, at most 65,535 bytes (-1 beyond).
    private static async ValueTask<int> ReadBodyAsync(PipeReader reader, byte[] destination)
    {
        int length = 0;
        while (true)
        {
            ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (length + buffer.Length > destination.Length)
            {
                reader.AdvanceTo(buffer.End);
                return -1;
            }

            buffer.CopyTo(destination.AsSpan(length));
            length += (int)buffer.Length;
            reader.AdvanceTo(buffer.End);
            if (result.IsCompleted)
            {
                return length;
            }
        }
    }

    private static NetAddress ClientOf(IFeatureCollection features) =>
        features.Get<IHttpConnectionFeature>()?.RemoteIpAddress is { } address ? NetAddress.FromIPAddress(address) : NetAddress.AnyV4;

    private void Error(IHttpResponseFeature response, int status)
    {
        _metrics.HttpErrors.Add(1);
        response.StatusCode = status;
        response.Headers.ContentLength = 0;
    }

    private static void Drop(IFeatureCollection features)
    {
        if (features.Get<IHttpResetFeature>() is { } reset)
        {
            reset.Reset(0x8);
        }
        else
        {
            features.Get<IHttpRequestLifetimeFeature>()?.Abort();
        }
    }

    private static bool HttpMethodIs(string method, string expected) => string.Equals(method, expected, StringComparison.Ordinal);

    private static string[] CreateMaxAgeText(int count)
    {
        var texts = new string[count + 1];
        for (int i = 0; i < texts.Length; i++)
        {
            texts[i] = "max-age=" + i.ToString(CultureInfo.InvariantCulture);
        }

        return texts;
    }
}
