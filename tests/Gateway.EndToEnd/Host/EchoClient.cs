using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.EndToEnd.Host;

/// <summary>Talks to the sample echo plugin over loopback UDP and TCP, retrying while a plugin is (re)loading.</summary>
internal static class EchoClient
{
    /// <summary>A loopback port free for both UDP and TCP right now.</summary>
    public static int FreePort()
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // Taken for TCP; try another.
            }
        }

        throw new InvalidOperationException("no free loopback port for UDP and TCP");
    }

    /// <summary>Sends <paramref name="text"/> by UDP; null when no answer came within <paramref name="wait"/>.</summary>
    public static async Task<string?> UdpAsync(int port, string text, TimeSpan wait)
    {
        using var client = new UdpClient(AddressFamily.InterNetwork);
        client.Connect(IPAddress.Loopback, port);
        await client.SendAsync(Encoding.UTF8.GetBytes(text));
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            UdpReceiveResult reply = await client.ReceiveAsync(timeout.Token);
            return Encoding.UTF8.GetString(reply.Buffer);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
        {
            return null;
        }
    }

    /// <summary>Sends one line by TCP and reads one line back; null when the connection failed or closed.</summary>
    public static async Task<string?> TcpAsync(int port, string line, TimeSpan wait)
    {
        using var client = new TcpClient(AddressFamily.InterNetwork);
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            NetworkStream stream = client.GetStream();
            await stream.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), timeout.Token);
            using var reader = new StreamReader(stream);
            return await reader.ReadLineAsync(timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException)
        {
            return null;
        }
    }

    /// <summary>Asks by UDP until the answer starts with <paramref name="expectedPrefix"/> (a plugin may still be loading).</summary>
    public static async Task<string> UdpUntilAsync(int port, string text, string expectedPrefix, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        string? last = null;
        while (Environment.TickCount64 < deadline)
        {
            last = await UdpAsync(port, text, TimeSpan.FromSeconds(1));
            if (last is not null && last.StartsWith(expectedPrefix, StringComparison.Ordinal))
            {
                return last;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"no UDP answer starting with '{expectedPrefix}' on port {port} within {timeout.TotalSeconds} s (last: {last ?? "none"})");
    }

    /// <summary>Copies a published plugin folder (overwriting files, as a user would).</summary>
    public static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    /// <summary>
    /// Copies a build over a plugin folder with fresh modification times, as <c>cp</c> or a deploy tool would: File.Copy
    /// keeps the source's times, so the same build copied again would look unchanged to the host's change check.
    /// </summary>
    public static void RedeployFolder(string from, string to)
    {
        CopyFolder(from, to);
        DateTime now = DateTime.UtcNow;
        foreach (string file in Directory.GetFiles(to, "*", SearchOption.AllDirectories))
        {
            File.SetLastWriteTimeUtc(file, now);
        }
    }
}
