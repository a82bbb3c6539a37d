using System.Text.Json;

namespace Gateway.Sdk.Api;

/// <summary>A request to a plugin's admin API route, as the host received it.</summary>
public sealed class ApiRequest
{
    /// <summary>Created by the host (or by tests).</summary>
    /// <param name="method">The HTTP method in upper case ("GET", "POST").</param>
    /// <param name="path">The path below the plugin's prefix, without a leading '/' ("stats", "cache/flush").</param>
    /// <param name="query">The query parameters (the first value of each name; names compared ordinally, case-insensitively).</param>
    /// <param name="body">The request body; empty for GET.</param>
    /// <param name="user">Who made the request, when the host knows ("token" for a bearer token); null otherwise.</param>
    public ApiRequest(string method, string path, IReadOnlyDictionary<string, string> query, ReadOnlyMemory<byte> body, string? user = null)
    {
        Method = method ?? throw new ArgumentNullException(nameof(method));
        Path = path ?? throw new ArgumentNullException(nameof(path));
        Query = query ?? throw new ArgumentNullException(nameof(query));
        Body = body;
        User = user;
    }

    /// <summary>The HTTP method in upper case.</summary>
    public string Method { get; }

    /// <summary>The path below <c>/api/v1/plugins/&lt;id&gt;/</c>, without a leading '/'.</summary>
    public string Path { get; }

    /// <summary>The query parameters: the first value of each name.</summary>
    public IReadOnlyDictionary<string, string> Query { get; }

    /// <summary>The request body (at most <see cref="MaxBodyBytes"/>; the host answers 413 to larger ones).</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>Who made the request, when the host knows; null otherwise.</summary>
    public string? User { get; }

    /// <summary>The largest request body the host hands to a plugin, in bytes (64 KiB).</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>
    /// The body parsed as JSON (camelCase names, as <see cref="ApiResponse.Json"/> writes them), or
    /// <c>default</c> when the body is empty.
    /// </summary>
    /// <exception cref="JsonException">The body is not valid JSON for <typeparamref name="T"/>; answer 400.</exception>
    public T? ReadJson<T>() => Body.IsEmpty ? default : JsonSerializer.Deserialize<T>(Body.Span, ApiResponse.JsonOptions);

    /// <summary>The query parameter <paramref name="name"/>, or null when absent.</summary>
    public string? QueryValue(string name) => Query.TryGetValue(name, out string? value) ? value : null;
}
