using System.Text;
using Gateway.Host.Api;
using Gateway.Sdk.Api;
using Xunit;

namespace Gateway.Tests.Host.Api;

public sealed class PluginApiRoutesTests
{
    private static readonly ApiHandler s_ok = (_, _) => ValueTask.FromResult(ApiResponse.Text("ok"));

    [Fact]
    public async Task Find_MappedRoute_ReturnsItsHandler()
    {
        var routes = new PluginApiRoutes();
        routes.Map("dns-dot", "get", "stats", (request, _) => ValueTask.FromResult(ApiResponse.Json(new { Path = request.Path, Limit = request.QueryValue("limit") })));

        PluginApiRoutes.RouteMatch match = routes.Find("dns-dot", "GET", "stats");

        Assert.NotNull(match.Handler);
        ApiResponse response = await match.Handler!(new ApiRequest("GET", "stats", new Dictionary<string, string> { ["limit"] = "5" }, default), CancellationToken.None);
        Assert.Equal(200, response.StatusCode);
        Assert.Equal("{\"path\":\"stats\",\"limit\":\"5\"}", Encoding.UTF8.GetString(response.Body.Span));
    }

    [Fact]
    public void Find_OtherMethodMapped_MethodNotAllowed()
    {
        var routes = new PluginApiRoutes();
        routes.Map("dns-dot", "POST", "cache/flush", s_ok);

        PluginApiRoutes.RouteMatch match = routes.Find("dns-dot", "GET", "cache/flush");

        Assert.Null(match.Handler);
        Assert.False(match.MethodAllowed);
        Assert.Equal(["POST"], routes.MethodsFor("dns-dot", "cache/flush"));
    }

    [Fact]
    public void Find_OtherPluginsRoute_NotFound()
    {
        var routes = new PluginApiRoutes();
        routes.Map("dns-dot", "GET", "stats", s_ok);

        PluginApiRoutes.RouteMatch match = routes.Find("wireguard", "GET", "stats");

        Assert.Null(match.Handler);
        Assert.True(match.MethodAllowed);
    }

    [Fact]
    public void Dispose_Registration_RemovesOnlyItsOwnMapping()
    {
        var routes = new PluginApiRoutes();
        IDisposable first = routes.Map("echo", "GET", "info", s_ok);
        IDisposable second = routes.Map("echo", "GET", "info", s_ok);

        first.Dispose();
        Assert.NotNull(routes.Find("echo", "GET", "info").Handler);

        second.Dispose();
        Assert.Null(routes.Find("echo", "GET", "info").Handler);
        Assert.Empty(routes.RoutesOf("echo"));
    }

    [Fact]
    public async Task Dispose_NewerMappingGoes_EarlierOneServedAgain()
    {
        // A plugin swap whose new version fails to start: its routes go, the running version's are served again.
        var routes = new PluginApiRoutes();
        IDisposable old = routes.Map("echo", "GET", "info", (_, _) => ValueTask.FromResult(ApiResponse.Text("old")));
        IDisposable fresh = routes.Map("echo", "GET", "info", (_, _) => ValueTask.FromResult(ApiResponse.Text("new")));
        Assert.Equal("new", await AnswerAsync(routes));

        fresh.Dispose();

        Assert.Equal("old", await AnswerAsync(routes));
        Assert.Equal(["GET info"], routes.RoutesOf("echo"));
        old.Dispose();
        Assert.Null(routes.Find("echo", "GET", "info").Handler);
    }

    private static async Task<string> AnswerAsync(PluginApiRoutes routes)
    {
        ApiHandler handler = routes.Find("echo", "GET", "info").Handler!;
        ApiResponse response = await handler(new ApiRequest("GET", "info", new Dictionary<string, string>(), default), CancellationToken.None);
        return Encoding.UTF8.GetString(response.Body.Span);
    }

    [Theory]
    [InlineData("/stats")]
    [InlineData("a//b")]
    [InlineData("../admin")]
    [InlineData("stats?x=1")]
    [InlineData("")]
    public void Map_MalformedPath_Throws(string path)
    {
        var routes = new PluginApiRoutes();
        Assert.Throws<ArgumentException>(() => routes.Map("echo", "GET", path, s_ok));
    }

    [Fact]
    public void Map_UnsupportedMethod_Throws()
    {
        var routes = new PluginApiRoutes();
        Assert.Throws<ArgumentException>(() => routes.Map("echo", "TRACE", "x", s_ok));
    }

    [Fact]
    public void ApiRequest_ReadJson_CamelCaseBody()
    {
        var request = new ApiRequest("POST", "blocking/pause", new Dictionary<string, string>(), Encoding.UTF8.GetBytes("{\"minutes\":5,\"group\":\"kids\"}"));

        Pause? pause = request.ReadJson<Pause>();

        Assert.Equal(new Pause(5, "kids"), pause);
    }

    [Fact]
    public void ApiResponse_Error_WritesErrorObject()
    {
        ApiResponse response = ApiResponse.Error(400, "minutes must be 1-1440");

        Assert.Equal(400, response.StatusCode);
        Assert.Equal("{\"error\":\"minutes must be 1-1440\"}", Encoding.UTF8.GetString(response.Body.Span));
    }

    private sealed record Pause(int Minutes, string? Group);
}
