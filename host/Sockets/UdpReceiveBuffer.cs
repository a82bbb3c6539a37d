using System.Net.Sockets;

namespace Gateway.Host.Sockets;

/// <summary>
/// The receive buffer of the host's UDP listeners. The kernel default (net.core.rmem_default, 208 KiB) holds about
/// 200 small queries once each datagram's bookkeeping is counted: a receive thread held up for 60 ms at 3,000
/// queries/s (a garbage collection, a busy core, a blocking upstream write) overflows it and the kernel drops the
/// rest unseen (Udp RcvbufErrors). The soak (scripts/soak.sh) lost 0.3 % of its DNS queries on the host socket this
/// way with nothing else wrong. 4 MiB is what unbound's documentation advises for <c>so-rcvbuf</c> under load and what
/// dnsdist raises its UDP sockets to; it is memory only for datagrams actually queued.
/// </summary>
internal static class UdpReceiveBuffer
{
    /// <summary>The receive buffer asked for: 4 MiB (the kernel doubles it for its own bookkeeping).</summary>
    public const int Bytes = 4 * 1024 * 1024;

    private const int SolSocket = 1;
    private const int SoRcvBufForce = 33;

    /// <summary>
    /// Raises the socket's receive buffer to <see cref="Bytes"/>: SO_RCVBUFFORCE first (the gateway has
    /// CAP_NET_ADMIN for its TUN, so net.core.rmem_max does not cap it), else SO_RCVBUF up to rmem_max.
    /// Never fails: a smaller buffer still serves.
    /// </summary>
    public static void Apply(Socket socket)
    {
        try
        {
            if (OperatingSystem.IsLinux())
            {
                socket.SetRawSocketOption(SolSocket, SoRcvBufForce, BitConverter.GetBytes(Bytes));
                return;
            }
        }
        catch (SocketException)
        {
            // EPERM without CAP_NET_ADMIN: fall back to the capped option.
        }

        try
        {
            socket.ReceiveBufferSize = Bytes;
        }
        catch (SocketException)
        {
            // The default buffer it is.
        }
    }
}
