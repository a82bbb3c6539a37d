namespace Gateway.Sdk.Api;

/// <summary>
/// Answers one request to a plugin's route on the admin listener (<c>/api/v1/plugins/&lt;id&gt;/&lt;path&gt;</c>).
/// </summary>
/// <remarks>
/// Runs on the admin listener's threads, after the host checked the admin token: the handler sees only
/// authenticated requests. A handler that throws yields 500 with a generic message (the exception is logged with
/// the plugin id); it never reaches the client. Keep handlers short: they share the admin listener with /metrics.
/// </remarks>
public delegate ValueTask<ApiResponse> ApiHandler(ApiRequest request, CancellationToken cancellationToken);
