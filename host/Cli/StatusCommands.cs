using System.Globalization;
using System.Net;
using System.Text.Json;
using Gateway.Host.Configuration;

namespace Gateway.Host.Cli;

/// <summary>
/// <c>gateway status</c>, <c>gateway peers</c> and <c>gateway top</c>: what the console page shows, read from a
/// running gateway's admin API (docs/api.md) and printed as text, or as the API's JSON with <c>--json</c>. The
/// address comes from <c>--admin URL</c>, else the config's host.admin.listen; the token from <c>--token</c>, else
/// host.admin.token/tokenFile. Exit codes (docs/api.md): 0 ok, 1 unreachable or refused, 2 config error or no
/// admin address, 3 the plugin or its route is not loaded.
/// </summary>
internal static class StatusCommands
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Runs <paramref name="command"/> ("status", "peers", "top").</summary>
    public static async Task<int> RunAsync(string command, string? configOption, string? adminOption, string? tokenOption, bool json, TextWriter stdout, TextWriter stderr)
    {
        if (!TryResolveTarget(configOption, adminOption, tokenOption, stderr, out Uri? address, out string? token))
        {
            return GatewayCommandLine.ExitConfigError;
        }

        using var client = new AdminClient(address!, token);
        try
        {
            return command switch
            {
                "peers" => await PeersAsync(client, json, stdout, stderr).ConfigureAwait(false),
                "top" => await TopAsync(client, json, stdout, stderr).ConfigureAwait(false),
                _ => await StatusAsync(client, json, stdout).ConfigureAwait(false),
            };
        }
        catch (AdminClientException ex)
        {
            await stderr.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return ex.ExitCode;
        }
    }

    /// <summary>The admin URL and token: the options first, then the config file's host.admin.</summary>
    public static bool TryResolveTarget(string? configOption, string? adminOption, string? tokenOption, TextWriter stderr, out Uri? address, out string? token)
    {
        address = null;
        token = tokenOption;
        if (adminOption is not null && !TryParseAdmin(adminOption, out address))
        {
            stderr.WriteLine($"--admin '{adminOption}' is not an http:// URL or ip:port");
            return false;
        }

        if (address is not null && token is not null)
        {
            return true;
        }

        string path = GatewayCommandLine.ResolveConfigPath(configOption);
        GatewayConfig config;
        try
        {
            config = GatewayConfigReader.Load(path, AppContext.BaseDirectory, Environment.GetEnvironmentVariables());
        }
        catch (ConfigException ex)
        {
            if (address is not null)
            {
                // An explicit --admin does not need the config; go on without a token.
                return true;
            }

            foreach (ConfigError error in ex.Errors)
            {
                stderr.WriteLine(error.ToString());
            }

            stderr.WriteLine($"{ex.Errors.Count} error(s) in {path}; pass --admin URL (and --token) to skip the config");
            return false;
        }

        token ??= config.Host.Admin.Token;
        if (address is null)
        {
            if (config.Host.Admin.Listen is not { } listen)
            {
                stderr.WriteLine($"{path}: host.admin.listen is not set, so there is no admin API to ask; set it or pass --admin URL");
                return false;
            }

            // A wildcard listener is reached on loopback.
            IPAddress ip = listen.Address.IsUnspecified ? (listen.Address.IsV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback) : listen.Address.ToIPAddress();
            address = new Uri($"http://{new IPEndPoint(ip, listen.Port)}/");
        }

        return true;
    }

    private static bool TryParseAdmin(string text, out Uri? address)
    {
        string candidate = text.Contains("://", StringComparison.Ordinal) ? text : "http://" + text;
        if (Uri.TryCreate(candidate, UriKind.Absolute, out Uri? uri) && uri.Scheme == "http")
        {
            address = new Uri(uri.GetLeftPart(UriPartial.Authority) + "/");
            return true;
        }

        address = null;
        return false;
    }

    private static async Task<int> StatusAsync(AdminClient client, bool json, TextWriter stdout)
    {
        using JsonDocument status = (await client.GetAsync("api/v1/status").ConfigureAwait(false))!;
        using JsonDocument plugins = (await client.GetAsync("api/v1/plugins").ConfigureAwait(false))!;
        using JsonDocument? dns = await client.GetAsync("api/v1/plugins/dns-dot/stats", allowMissing: true).ConfigureAwait(false);
        if (json)
        {
            await stdout.WriteLineAsync($"{{\"status\":{status.RootElement.GetRawText()},\"plugins\":{plugins.RootElement.GetRawText()},\"dns\":{dns?.RootElement.GetRawText() ?? "null"}}}").ConfigureAwait(false);
            return GatewayCommandLine.ExitOk;
        }

        JsonElement s = status.RootElement;
        double uptime = s.GetProperty("uptimeSeconds").GetDouble();
        await stdout.WriteLineAsync($"gateway {s.GetProperty("version").GetString()} at {client.BaseAddress}: up {Duration(uptime)} ({uptime.ToString("0", Invariant)} s), {(s.GetProperty("ready").GetBoolean() ? "ready" : "starting")}").ConfigureAwait(false);
        await stdout.WriteLineAsync($"config {s.GetProperty("configFile").GetString()}: {ReloadLine(s)}").ConfigureAwait(false);
        if (s.TryGetProperty("lastReload", out JsonElement reload) && !reload.GetProperty("ok").GetBoolean())
        {
            foreach (JsonElement error in reload.GetProperty("errors").EnumerateArray())
            {
                await stdout.WriteLineAsync("  " + error.GetProperty("text").GetString()).ConfigureAwait(false);
            }
        }

        await stdout.WriteLineAsync("plugins:").ConfigureAwait(false);
        foreach (JsonElement plugin in plugins.RootElement.GetProperty("plugins").EnumerateArray())
        {
            string problem = plugin.TryGetProperty("loadError", out JsonElement error) ? "  " + error.GetString() : string.Empty;
            string version = plugin.TryGetProperty("version", out JsonElement v) ? v.GetString() ?? "-" : "-";
            await stdout.WriteLineAsync($"  {plugin.GetProperty("id").GetString(),-12} {plugin.GetProperty("state").GetString(),-10} {version}{problem}").ConfigureAwait(false);
        }

        await stdout.WriteLineAsync("listeners:").ConfigureAwait(false);
        foreach (JsonElement listener in s.GetProperty("listeners").EnumerateArray())
        {
            await stdout.WriteLineAsync($"  {listener.GetProperty("owner").GetString(),-12} {listener.GetProperty("protocol").GetString(),-4} {listener.GetProperty("endpoint").GetString()} ({listener.GetProperty("kind").GetString()})").ConfigureAwait(false);
        }

        if (dns is not null)
        {
            JsonElement d = dns.RootElement;
            JsonElement queries = d.GetProperty("queries");
            JsonElement minute = d.GetProperty("latencyMs").GetProperty("oneMinute");
            await stdout.WriteLineAsync(
                $"dns: {Number(d, "qps")} queries/s (last 60 s); queries {queries.GetProperty("total").GetInt64()} total, {queries.GetProperty("lastMinute").GetInt64()} last minute, " +
                $"{queries.GetProperty("lastHour").GetInt64()} last hour; blocked {Percent(d, "blockedRatio")}, cache hits {Percent(d, "cacheHitRatio")}; " +
                $"latency p50 {Number(minute, "p50")} ms, p90 {Number(minute, "p90")} ms, p99 {Number(minute, "p99")} ms (1 min)").ConfigureAwait(false);
        }

        return GatewayCommandLine.ExitOk;
    }

    private static async Task<int> PeersAsync(AdminClient client, bool json, TextWriter stdout, TextWriter stderr)
    {
        using JsonDocument? peers = await client.GetAsync("api/v1/plugins/wireguard/peers", allowMissing: true).ConfigureAwait(false);
        if (peers is null)
        {
            await stderr.WriteLineAsync("wireguard: not loaded (no /api/v1/plugins/wireguard/peers)").ConfigureAwait(false);
            return GatewayCommandLine.ExitNotLoaded;
        }

        if (json)
        {
            await stdout.WriteLineAsync(peers.RootElement.GetRawText()).ConfigureAwait(false);
            return GatewayCommandLine.ExitOk;
        }

        JsonElement root = peers.RootElement;
        if (!root.TryGetProperty("publicKey", out JsonElement publicKey))
        {
            // The plugin is loaded but its section configures no interface (PeersApi omits the device's fields).
            await stdout.WriteLineAsync("interface: off (the wireguard section configures no interface)").ConfigureAwait(false);
            return GatewayCommandLine.ExitOk;
        }

        await stdout.WriteLineAsync($"interface: public key {publicKey.GetString()}, listening on UDP {root.GetProperty("listenPort").GetInt32()}").ConfigureAwait(false);
        foreach (JsonElement peer in root.GetProperty("peers").EnumerateArray())
        {
            string handshake = peer.TryGetProperty("lastHandshakeSecondsAgo", out JsonElement ago) ? Duration(ago.GetDouble()) + " ago" : "never";
            string endpoint = peer.TryGetProperty("endpoint", out JsonElement e) ? e.GetString() ?? "-" : "-";
            string allowed = string.Join(", ", peer.GetProperty("allowedIps").EnumerateArray().Select(ip => ip.GetString()));
            await stdout.WriteLineAsync($"peer {peer.GetProperty("publicKey").GetString()}").ConfigureAwait(false);
            await stdout.WriteLineAsync($"  endpoint {endpoint}; allowed ips {allowed}; latest handshake {handshake}; " +
                $"transfer {peer.GetProperty("rxBytes").GetInt64()} B received, {peer.GetProperty("txBytes").GetInt64()} B sent").ConfigureAwait(false);
        }

        return GatewayCommandLine.ExitOk;
    }

    private static async Task<int> TopAsync(AdminClient client, bool json, TextWriter stdout, TextWriter stderr)
    {
        using JsonDocument? stats = await client.GetAsync("api/v1/plugins/dns-dot/stats", allowMissing: true).ConfigureAwait(false);
        if (stats is null)
        {
            await stderr.WriteLineAsync("dns-dot: not loaded (no /api/v1/plugins/dns-dot/stats)").ConfigureAwait(false);
            return GatewayCommandLine.ExitNotLoaded;
        }

        JsonElement root = stats.RootElement;
        if (json)
        {
            await stdout.WriteLineAsync($"{{\"topNames\":{root.GetProperty("topNames").GetRawText()},\"topClients\":{root.GetProperty("topClients").GetRawText()},\"topBlocked\":{root.GetProperty("topBlocked").GetRawText()}}}").ConfigureAwait(false);
            return GatewayCommandLine.ExitOk;
        }

        foreach ((string title, string list, string key) in new[] { ("top names", "topNames", "name"), ("top clients", "topClients", "client"), ("top blocked", "topBlocked", "name") })
        {
            await stdout.WriteLineAsync($"{title} (last hour):").ConfigureAwait(false);
            foreach (JsonElement item in root.GetProperty(list).EnumerateArray())
            {
                await stdout.WriteLineAsync($"  {item.GetProperty("count").GetInt64(),8}  {item.GetProperty(key).GetString()}").ConfigureAwait(false);
            }
        }

        return GatewayCommandLine.ExitOk;
    }

    private static string ReloadLine(JsonElement status)
    {
        if (!status.TryGetProperty("lastReload", out JsonElement reload))
        {
            return "loaded at start, no reload since";
        }

        string when = reload.GetProperty("time").GetString() ?? "?";
        return reload.GetProperty("ok").GetBoolean()
            ? $"reloaded {when} ({reload.GetProperty("trigger").GetString()})"
            : $"reload REJECTED {when} ({reload.GetProperty("trigger").GetString()}), the running config is kept:";
    }

    private static string Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble().ToString("0.###", Invariant) : "-";

    private static string Percent(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.Number ? (value.GetDouble() * 100).ToString("0.#", Invariant) + " %" : "-";

    private static string Duration(double seconds)
    {
        var span = TimeSpan.FromSeconds(Math.Max(0, seconds));
        return span.TotalDays >= 1 ? $"{(int)span.TotalDays}d{span.Hours:00}h" : span.TotalHours >= 1 ? $"{(int)span.TotalHours}h{span.Minutes:00}m" : $"{(int)span.TotalMinutes}m{span.Seconds:00}s";
    }
}
