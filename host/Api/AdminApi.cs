using System.Buffers;
using System.IO.Pipelines;
using System.Reflection;
using Gateway.Host.Admin;
using Gateway.Host.Api.Models;
using Gateway.Host.Configuration;
using Gateway.Host.Plugins;
using Gateway.Host.Runtime;
using Gateway.Sdk.Api;
using Gateway.Sdk.Networking;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Api;

/// <summary>
/// The JSON API under <c>/api/v1/</c> (docs/api.md): the host's status, plugins and config reload, and each
/// plugin's routes under <c>/api/v1/plugins/&lt;id&gt;/</c> (mapped with <c>IPluginContext.MapApi</c>). Requests
/// reach it only after the admin listener checked the Host and the token.
/// </summary>
internal sealed class AdminApi
{
    private const string PluginsPrefix = "/api/v1/plugins/";

    private static readonly string Version =
        typeof(AdminApi).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(AdminApi).Assembly.GetName().Version?.ToString() ?? "unknown";

    private readonly GatewayRuntime _runtime;
    private readonly ILogger _logger;

    public AdminApi(GatewayRuntime runtime, ILogger logger)
    {
        _runtime = runtime;
        _logger = logger;
    }

    /// <summary>The admin listener's bound endpoint, listed with the listeners once known.</summary>
    public NetEndpoint? AdminEndpoint { get; set; }

    public Task AnswerAsync(HttpContext context, string path)
    {
        string method = context.Request.Method;
        bool read = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        switch (path)
        {
            case "/api/v1/status":
                return read ? AdminResponses.JsonAsync(context, Status()) : AdminResponses.MethodNotAllowedAsync(context, "GET, HEAD", json: true);
            case "/api/v1/plugins":
                return read ? AdminResponses.JsonAsync(context, Plugins()) : AdminResponses.MethodNotAllowedAsync(context, "GET, HEAD", json: true);
            case "/api/v1/config/reload":
                return HttpMethods.IsPost(method) ? ReloadAsync(context) : AdminResponses.MethodNotAllowedAsync(context, "POST", json: true);
        }

        if (path.StartsWith(PluginsPrefix, StringComparison.Ordinal))
        {
            return PluginRouteAsync(context, path[PluginsPrefix.Length..]);
        }

        return AdminResponses.ErrorAsync(context, 404, $"no API at {path}; see /api/v1/status, /api/v1/plugins, /api/v1/config/reload, /api/v1/plugins/<id>/...");
    }

    private StatusDocument Status()
    {
        DateTimeOffset started = _runtime.StartedAt;
        var listeners = new List<ListenerDocument>();
        foreach (PluginHandle plugin in _runtime.Plugins.Plugins)
        {
            listeners.AddRange(ListenersOf(plugin));
        }

        if (AdminEndpoint is { } admin)
        {
            listeners.Add(new ListenerDocument("admin", "http", admin.ToString(), "admin"));
        }

        return new StatusDocument(
            Version,
            started.UtcDateTime,
            Math.Round((DateTimeOffset.UtcNow - started).TotalSeconds, 3),
            _runtime.ConfigPath,
            _runtime.IsReady,
            _runtime.LastReload is { } reload ? ToDocument(reload) : null,
            listeners);
    }

    private PluginsDocument Plugins()
    {
        var plugins = new List<PluginDocument>();
        foreach (PluginHandle plugin in _runtime.Plugins.Plugins)
        {
            string state = plugin.Running ? "running" : plugin.Plugin is null ? "notLoaded" : plugin.Failure is not null ? "failed" : "stopped";
            string? version = plugin.Plugin?.GetType().Assembly is { } assembly
                ? assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? assembly.GetName().Version?.ToString()
                : null;
            plugins.Add(new PluginDocument(
                plugin.Id,
                version,
                state,
                plugin.Running ? null : plugin.Failure,
                plugin.Folder,
                _runtime.Plugins.ApiRoutes.RoutesOf(plugin.Id),
                ListenersOf(plugin)));
        }

        return new PluginsDocument(plugins);
    }

    private async Task ReloadAsync(HttpContext context)
    {
        ReloadReport report = await _runtime.ReloadAsync(ReloadReport.ApiTrigger).ConfigureAwait(false);
        string remote = context.Connection.RemoteIpAddress?.ToString() ?? "?";
        AdminLog.ReloadRequested(_logger, remote, report.Ok ? "applied" : $"rejected, {report.Errors.Count} error(s)");

        // 422: the request was fine, the file it names is not; the running config stays.
        await AdminResponses.JsonAsync(context, ToDocument(report), report.Ok ? 200 : 422).ConfigureAwait(false);
    }

    private async Task PluginRouteAsync(HttpContext context, string rest)
    {
        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        string id = slash < 0 ? rest : rest[..slash];
        string routePath = slash < 0 ? string.Empty : rest[(slash + 1)..];
        if (!IsRunning(id))
        {
            await AdminResponses.ErrorAsync(context, 404, $"plugin '{id}' is not loaded").ConfigureAwait(false);
            return;
        }

        // HEAD is answered by the GET route, without its body.
        string method = HttpMethods.IsHead(context.Request.Method) ? "GET" : context.Request.Method.ToUpperInvariant();
        PluginApiRoutes.RouteMatch match = _runtime.Plugins.ApiRoutes.Find(id, method, routePath);
        if (match.Handler is null)
        {
            if (!match.MethodAllowed)
            {
                string allow = string.Join(", ", _runtime.Plugins.ApiRoutes.MethodsFor(id, routePath));
                await AdminResponses.MethodNotAllowedAsync(context, allow, json: true).ConfigureAwait(false);
                return;
            }

            await AdminResponses.ErrorAsync(context, 404, $"plugin '{id}' has no route '{routePath}'").ConfigureAwait(false);
            return;
        }

        if (context.Request.ContentLength > ApiRequest.MaxBodyBytes)
        {
            await AdminResponses.ErrorAsync(context, 413, $"the request body is larger than {ApiRequest.MaxBodyBytes} bytes").ConfigureAwait(false);
            return;
        }

        byte[]? body = await ReadBodyAsync(context.Request.BodyReader, context.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            await AdminResponses.ErrorAsync(context, 413, $"the request body is larger than {ApiRequest.MaxBodyBytes} bytes").ConfigureAwait(false);
            return;
        }

        var query = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues> pair in context.Request.Query)
        {
            query[pair.Key] = pair.Value.Count > 0 ? pair.Value[0] ?? string.Empty : string.Empty;
        }

        var request = new ApiRequest(method, routePath, query, body, user: "token");
        ApiResponse answer;
        try
        {
            answer = await match.Handler(request, context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            // The SDK's promise (ApiHandler): the exception is logged with the plugin id and never reaches the client.
            AdminLog.PluginRouteFailed(_logger, id, method, routePath, ex.GetBaseException().Message);
            await AdminResponses.ErrorAsync(context, 500, $"plugin '{id}' failed to answer; see the gateway's log").ConfigureAwait(false);
            return;
        }

        await AdminResponses.ApiAsync(context, answer).ConfigureAwait(false);
    }

    /// <summary>The whole body, or null when it is larger than <see cref="ApiRequest.MaxBodyBytes"/> (chunked bodies have no length up front).</summary>
    private static async Task<byte[]?> ReadBodyAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (buffer.Length > ApiRequest.MaxBodyBytes)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                return null;
            }

            if (result.IsCompleted)
            {
                byte[] body = buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return body;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private bool IsRunning(string id)
    {
        foreach (PluginHandle plugin in _runtime.Plugins.Plugins)
        {
            if (plugin.Id == id && plugin.Running)
            {
                return true;
            }
        }

        return false;
    }

    private static List<ListenerDocument> ListenersOf(PluginHandle plugin)
    {
        var list = new List<ListenerDocument>();
        if (plugin.Context is { } context)
        {
            foreach (EndpointBinding binding in context.Bindings)
            {
                list.Add(new ListenerDocument(plugin.Id, binding.Protocol, binding.Endpoint.ToString(), binding.Kind == EndpointKind.Virtual ? "virtual" : "hostSocket"));
            }
        }

        return list;
    }

    private static ReloadDocument ToDocument(ReloadReport report)
    {
        var errors = new List<ConfigErrorDocument>(report.Errors.Count);
        foreach (ConfigError error in report.Errors)
        {
            errors.Add(new ConfigErrorDocument(error.File, error.Line, error.Column, error.KeyPath.Length == 0 ? null : error.KeyPath, error.Message, error.ToString()));
        }

        string? summary = report.Ok ? null : $"config rejected with {errors.Count} error(s); the running config is kept";
        return new ReloadDocument(report.Time.UtcDateTime, report.Trigger, report.Ok, errors, summary);
    }
}
