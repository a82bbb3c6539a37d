using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Gateway.Host.Cli;

/// <summary>
/// The CLI's side of the admin API (<c>gateway status</c>, <c>peers</c>, <c>top</c>): GETs with the bearer token,
/// answers as JSON documents, failures as <see cref="AdminClientException"/> with the exit code scripts see.
/// </summary>
internal sealed class AdminClient : IDisposable
{
    /// <summary>How long the CLI waits for the gateway; a gateway that does not answer in time is "unreachable".</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly HttpClient _http;

    public AdminClient(Uri baseAddress, string? token)
    {
        BaseAddress = baseAddress;
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = Timeout }) { BaseAddress = baseAddress, Timeout = Timeout };
        if (token is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public Uri BaseAddress { get; }

    /// <summary>GET <paramref name="path"/>; null when it answers 404 and <paramref name="allowMissing"/> (a plugin or route that is absent).</summary>
    /// <exception cref="AdminClientException">Unreachable, 401, another error status, or not JSON.</exception>
    public async Task<JsonDocument?> GetAsync(string path, bool allowMissing = false, CancellationToken cancellationToken = default)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.GetAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            throw new AdminClientException(GatewayCommandLine.ExitUnreachable, $"the gateway's admin API at {BaseAddress} is unreachable ({ex.GetBaseException().Message}); is the gateway running, and is host.admin.listen (or --admin) right?");
        }

        using (response)
        {
            string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound && allowMissing)
            {
                return null;
            }

            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                throw new AdminClientException(GatewayCommandLine.ExitUnreachable, $"the admin API at {BaseAddress} refused the token (401); pass --token or set host.admin.tokenFile");
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new AdminClientException(GatewayCommandLine.ExitUnreachable, $"GET {path}: {(int)response.StatusCode} {ErrorOf(body)}");
            }

            try
            {
                return JsonDocument.Parse(body);
            }
            catch (JsonException)
            {
                throw new AdminClientException(GatewayCommandLine.ExitUnreachable, $"GET {path}: the answer is not JSON; is {BaseAddress} a gateway's admin listener?");
            }
        }
    }

    public void Dispose() => _http.Dispose();

    private static string ErrorOf(string body)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(body);
            return document.RootElement.TryGetProperty("error", out JsonElement error) ? error.GetString() ?? body : body;
        }
        catch (JsonException)
        {
            return body.Length > 200 ? body[..200] : body;
        }
    }
}
