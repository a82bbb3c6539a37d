using System.Net.Sockets;

namespace Gateway.Plugins.DnsDot.Server;

/// <summary>Closes a client connection at once, for offenders.</summary>
internal static class ConnectionReset
{
    /// <summary>
    /// Closes <paramref name="socket"/> with an RST (SO_LINGER 0): a plain close would leave the unread answers in
    /// the kernel's send buffer, retried to a client that does not read, for minutes.
    /// </summary>
    public static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed: nothing left to reset.
        }

        socket.Dispose();
    }
}
