using System.Net;

namespace Gateway.Plugins.WireGuard.Conn;

/// <summary>Helpers for <see cref="SocketAddress"/> on the data path.</summary>
internal static class SocketAddresses
{
    /// <summary>
    /// True when both hold the same sockaddr. <see cref="SocketAddress.Equals(SocketAddress)"/> compares whole
    /// buffers, so a receive address (a 28-byte buffer with Size 16 for IPv4) never equals a 16-byte copy of itself;
    /// this compares the first Size bytes only.
    /// </summary>
    public static bool Same(SocketAddress a, SocketAddress b) =>
        ReferenceEquals(a, b) || (a.Size == b.Size && a.Buffer.Span[..a.Size].SequenceEqual(b.Buffer.Span[..b.Size]));
}
