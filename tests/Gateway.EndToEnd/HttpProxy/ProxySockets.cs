using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>Raw-socket helpers shared by the proxy's end-to-end tests.</summary>
internal static class ProxySockets
{
    /// <summary>Reads until the peer closes (30 s at most) and returns the bytes as ASCII.</summary>
    public static async Task<string> ReadToEndAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var received = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                return Encoding.ASCII.GetString(received.ToArray());
            }

            received.Write(buffer, 0, n);
        }
    }

    /// <summary>Waits (20 s at most) until something accepts TCP connections on 127.0.0.1:<paramref name="port"/>.</summary>
    public static async Task WaitForPortAsync(int port)
    {
        for (int i = 0; i < 200; i++)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        throw new TimeoutException($"nothing listens on 127.0.0.1:{port} after 20 s");
    }
}
