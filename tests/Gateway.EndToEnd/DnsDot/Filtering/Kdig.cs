using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.DnsDot.Filtering;

/// <summary>kdig against the gateway's host socket, as a user would run it.</summary>
internal static class Kdig
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>kdig's full output for <paramref name="name"/> <paramref name="type"/> (plus extra options such as +short or +tcp).</summary>
    public static async Task<string> QueryAsync(int port, string name, string type, params string[] extra)
    {
        var args = new List<string> { "@127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "+time=5", "+retry=1", name, type };
        args.AddRange(extra);
        CommandResult result = await ProcessRunner.RunAsync("kdig", args, Timeout);
        return result.Output;
    }

    /// <summary>The +short answer lines.</summary>
    public static async Task<string[]> ShortAsync(int port, string name, string type, params string[] extra) =>
        (await QueryAsync(port, name, type, ["+short", .. extra])).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>A free TCP port on loopback (the gateway binds UDP and TCP on it).</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>An upstream entry of gateway.yaml for <paramref name="unbound"/>.</summary>
    public static string Upstream(UnboundDot unbound) => $"{{ address: \"{unbound.Address}\", tlsName: {UnboundDot.TlsName}, caFile: \"{unbound.CaFile}\" }}";
}
