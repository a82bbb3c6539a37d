using System.Net;

namespace Gateway.Plugins.WireGuard.Conn;

/// <summary>Where the device sends UDP datagrams (WireGuard messages) to peers.</summary>
internal interface IDatagramSink
{
    /// <summary>Sends one datagram to <paramref name="destination"/>; false when no socket of that family exists or the send failed.</summary>
    bool Send(ReadOnlySpan<byte> datagram, SocketAddress destination);
}
