using System.Text;
using Gateway.Plugins.HttpProxy.Cache;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Tests.HttpProxy.Cache;

/// <summary>Parses request and response heads written as text into what the cache rules take.</summary>
internal static class CacheTestHeads
{
    public static RequestCacheInfo Request(string method, params string[] fields)
    {
        byte[] head = Encoding.ASCII.GetBytes($"{method} http://a.test/x HTTP/1.1\r\nHost: a.test\r\n{Lines(fields)}\r\n");
        var parsed = new HeaderField[32];
        Assert.Equal(HttpParseError.None, HttpHeadParser.ParseRequest(head, parsed, out RequestHead request));
        return RequestCacheInfo.Parse(head, request, parsed.AsSpan(0, request.Headers.Count));
    }

    public static ResponseCacheInfo Response(params string[] fields) => Response(200, fields);

    public static ResponseCacheInfo Response(int status, params string[] fields)
    {
        byte[] head = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} X\r\n{Lines(fields)}\r\n");
        var parsed = new HeaderField[32];
        Assert.Equal(HttpParseError.None, HttpHeadParser.ParseResponse(head, parsed, out ResponseHead response));
        return ResponseCacheInfo.Parse(head, parsed.AsSpan(0, response.Headers.Count));
    }

    private static string Lines(string[] fields)
    {
        var text = new StringBuilder();
        foreach (string field in fields)
        {
            text.Append(field).Append("\r\n");
        }

        return text.ToString();
    }
}
