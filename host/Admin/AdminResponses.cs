using System.Text;
using Gateway.Sdk.Api;
using Microsoft.AspNetCore.Http;

namespace Gateway.Host.Admin;

/// <summary>
/// Writes the admin listener's answers: every one with a length, <c>Cache-Control: no-store</c>, and no body for HEAD.
/// Set any other header before calling: writing the body starts the response.
/// </summary>
internal static class AdminResponses
{
    public const string TextContentType = "text/plain; charset=utf-8";

    /// <param name="cacheControl">The Cache-Control value; "no-store" unless given (assets revalidate with "no-cache").</param>
    public static Task WriteAsync(HttpContext context, int status, string contentType, ReadOnlyMemory<byte> body, string cacheControl = "no-store")
    {
        HttpResponse response = context.Response;
        response.StatusCode = status;
        response.ContentType = contentType;
        response.ContentLength = body.Length;
        response.Headers.CacheControl = cacheControl;
        response.Headers.XContentTypeOptions = "nosniff";
        if (HttpMethods.IsHead(context.Request.Method) || body.IsEmpty)
        {
            return Task.CompletedTask;
        }

        return response.BodyWriter.WriteAsync(body, context.RequestAborted).AsTask();
    }

    public static Task TextAsync(HttpContext context, int status, string text) =>
        WriteAsync(context, status, TextContentType, Encoding.UTF8.GetBytes(text));

    public static Task ApiAsync(HttpContext context, ApiResponse answer) =>
        WriteAsync(context, answer.StatusCode, answer.ContentType, answer.Body);

    public static Task JsonAsync<T>(HttpContext context, T value, int status = 200) =>
        ApiAsync(context, ApiResponse.Json(value, status));

    public static Task ErrorAsync(HttpContext context, int status, string message) =>
        ApiAsync(context, ApiResponse.Error(status, message));

    /// <summary>405 with the methods the path allows.</summary>
    public static Task MethodNotAllowedAsync(HttpContext context, string allow, bool json)
    {
        context.Response.Headers.Allow = allow;
        return json
            ? ErrorAsync(context, 405, $"method {context.Request.Method} not allowed; use {allow}")
            : TextAsync(context, 405, $"method not allowed; use {allow}");
    }
}
