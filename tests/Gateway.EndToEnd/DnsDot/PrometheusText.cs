using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>Reads counters from the published gateway's admin listener (GET /metrics, Prometheus text).</summary>
internal static class PrometheusText
{
    /// <summary>GET /metrics from the admin listener on 127.0.0.1:<paramref name="port"/> (inside <paramref name="netns"/> when given).</summary>
    public static async Task<string> FetchAsync(int port, NetworkNamespace? netns = null)
    {
        string curl = $"curl -sf --max-time 10 http://127.0.0.1:{port}/metrics";
        return netns is null ? await ProcessRunner.ShCheckedAsync(curl) : await netns.ShCheckedAsync(curl);
    }

    /// <summary>The sum of every series of <paramref name="name"/> whose labels contain <paramref name="labelFilter"/> (0 when absent).</summary>
    public static double Sum(string text, string name, string labelFilter = "")
    {
        double sum = 0;
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(name, StringComparison.Ordinal))
            {
                continue;
            }

            string rest = line[name.Length..];
            if (rest.Length > 0 && rest[0] != '{' && rest[0] != ' ')
            {
                continue;
            }

            if (labelFilter.Length > 0 && !rest.Contains(labelFilter, StringComparison.Ordinal))
            {
                continue;
            }

            string value = line[(line.LastIndexOf(' ') + 1)..];
            sum += double.Parse(value, CultureInfo.InvariantCulture);
        }

        return sum;
    }

    /// <summary>A loopback TCP port free right now (for the admin listener).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The resident set size of a process in bytes (VmRSS in /proc/pid/status).</summary>
    public static long Rss(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status", Encoding.ASCII))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException($"no VmRSS for pid {pid}");
    }
}
