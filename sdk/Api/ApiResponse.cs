using System.Text;
using System.Text.Json;

namespace Gateway.Sdk.Api;

/// <summary>The answer of an <see cref="ApiHandler"/>: a status code and a body.</summary>
public sealed class ApiResponse
{
    /// <summary>
    /// The JSON conventions of the admin API: camelCase property names, enums as camelCase strings, nulls
    /// omitted. Plugins get the same output as the host's own endpoints when they use <see cref="Json"/>.
    /// </summary>
    public static JsonSerializerOptions JsonOptions { get; } = CreateJsonOptions();

    /// <summary>Creates a response; prefer <see cref="Json"/>, <see cref="Text"/> and <see cref="Error"/>.</summary>
    public ApiResponse(int statusCode, string contentType, ReadOnlyMemory<byte> body)
    {
        if (statusCode is < 100 or > 599)
        {
            throw new ArgumentOutOfRangeException(nameof(statusCode), statusCode, "an HTTP status code is 100-599");
        }

        StatusCode = statusCode;
        ContentType = contentType ?? throw new ArgumentNullException(nameof(contentType));
        Body = body;
    }

    /// <summary>The HTTP status code.</summary>
    public int StatusCode { get; }

    /// <summary>The Content-Type of <see cref="Body"/>.</summary>
    public string ContentType { get; }

    /// <summary>The response body.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary><paramref name="value"/> serialized as JSON with <see cref="JsonOptions"/>.</summary>
    public static ApiResponse Json<T>(T value, int statusCode = 200) =>
        new(statusCode, "application/json; charset=utf-8", JsonSerializer.SerializeToUtf8Bytes(value, JsonOptions));

    /// <summary>A plain-text body.</summary>
    public static ApiResponse Text(string text, int statusCode = 200) =>
        new(statusCode, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(text));

    /// <summary>An error as the admin API writes every error: <c>{"error": "&lt;message&gt;"}</c>.</summary>
    public static ApiResponse Error(int statusCode, string message) => Json(new ApiError(message), statusCode);

    /// <summary>204, no body.</summary>
    public static ApiResponse NoContent() => new(204, "text/plain; charset=utf-8", ReadOnlyMemory<byte>.Empty);

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        };
        options.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    private sealed record ApiError(string Error);
}
