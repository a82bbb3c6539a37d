using System.Buffers;
using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Plugins.HttpProxy.Configuration;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Benchmarks;

/// <summary>
/// The per-request CPU work of the http-proxy outside the socket calls: parse the client's head,
/// split its absolute-form target, write the origin-form head; parse the origin's response head and
/// write the client's. Expected: 0 B allocated.
/// </summary>
[MemoryDiagnoser]
public class HttpProxyBenchmarks
{
    // What wrk sends through a proxy in http-peers.sh, plus curl's usual fields.
    private static readonly byte[] s_request =
        "GET http://127.0.0.1:8000/1k.bin HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nProxy-Connection: Keep-Alive\r\n\r\n"u8.ToArray();

    // python3 http.server's answer.
    private static readonly byte[] s_response =
        "HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.2\r\nDate: Sat, 21 Nov 2026 21:00:00 GMT\r\nContent-type: application/octet-stream\r\nContent-Length: 1024\r\nLast-Modified: Sat, 21 Nov 2026 20:00:00 GMT\r\n\r\n"u8.ToArray();

    private readonly HeaderField[] _fields = new HeaderField[100];
    private readonly ArrayBufferWriter<byte> _output = new(4096);
    private readonly char[] _key = new char[256];
    private HttpCache _cache = null!;

    [GlobalSetup]
    public void Setup()
    {
        _cache = new HttpCache(new HttpCacheOptions(), new HttpProxyMetrics(new Meter("bench")));
        _cache.Store(new CacheEntry("127.0.0.1:8000/1k.bin", s_response[..^2], new byte[1024], 1024, 200) { Lifetime = 3600, ReceivedAtMs = Environment.TickCount64 });
    }

    /// <summary>
    /// A cache hit outside the socket calls: parse the head, build the key, look it up, check freshness and
    /// write the stored head, Age, Via and the 1 KiB body into the send buffer.
    /// </summary>
    [Benchmark]
    public int CacheHit()
    {
        int end = HttpHeadParser.FindHeadEnd(s_request, 0);
        ReadOnlySpan<byte> head = s_request.AsSpan(0, end);
        HttpHeadParser.ParseRequest(head, _fields, out RequestHead request);
        ReadOnlySpan<byte> target = request.Target(head);
        ProxyTarget.TryParseAbsolute(target, out ProxyTarget parsed);
        ReadOnlySpan<HeaderField> fields = _fields.AsSpan(0, request.Headers.Count);
        RequestCacheInfo info = RequestCacheInfo.Parse(head, request, fields);
        int keyLength = CacheKey.Write(target, parsed, _key);
        CacheEntry entry = _cache.Find(_key.AsSpan(0, keyLength))!;
        if (!entry.VaryMatches(head, fields) || !CachePolicy.MayServeWithoutValidation(entry.CurrentAgeMs(Environment.TickCount64), entry.Lifetime, entry.MustRevalidate, info))
        {
            entry.Release();
            return -1;
        }

        _output.ResetWrittenCount();
        _output.Write(entry.Head);
        _output.Write("Age: "u8);
        (entry.CurrentAgeMs(Environment.TickCount64) / 1000).TryFormat(_output.GetSpan(20), out int written);
        _output.Advance(written);
        _output.Write("\r\n"u8);
        _output.Write(HeadWriter.ViaLine);
        _output.Write("\r\n"u8);
        _output.Write(entry.Body.Span);
        entry.Release();
        return _output.WrittenCount;
    }

    [Benchmark]
    public int ParseRequestHead()
    {
        HttpHeadParser.ParseRequest(s_request, _fields, out RequestHead request);
        ProxyTarget.TryParseAbsolute(request.Target(s_request), out ProxyTarget target);
        return target.Port + request.Headers.Count;
    }

    [Benchmark]
    public int ParseAndForwardRequestHead()
    {
        int end = HttpHeadParser.FindHeadEnd(s_request, 0);
        ReadOnlySpan<byte> head = s_request.AsSpan(0, end);
        HttpHeadParser.ParseRequest(head, _fields, out RequestHead request);
        ProxyTarget.TryParseAbsolute(request.Target(head), out ProxyTarget target);
        _output.ResetWrittenCount();
        HeadWriter.WriteRequest(_output, head, request, _fields.AsSpan(0, request.Headers.Count), target);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int ParseAndForwardResponseHead()
    {
        HttpHeadParser.ParseResponse(s_response, _fields, out ResponseHead response);
        _output.ResetWrittenCount();
        HeadWriter.WriteResponse(_output, s_response, response, _fields.AsSpan(0, response.Headers.Count), chunked: false, close: false, keepAlive: false);
        return _output.WrittenCount;
    }
}
