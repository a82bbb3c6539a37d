using System.Net;

namespace Gateway.Plugins.WireGuard.Conn;

/// <summary>Where the device sends UDP datagrams (WireGuard messages) to peers.</summary>
internal interface IDatagramSink
{
    /// <summary>Sends one datagram to <paramref name="destination"/>; false when no socket of that family exists or the send failed.</summary>
    bool Send(ReadOnlySpan<byte> datagram, SocketAddress destination);

    /// <summary>
    /// Sends every datagram of <paramref name="batch"/> in order and clears it; returns the bytes sent. The default
    /// sends them one by one; the UDP transport uses sendmmsg and UDP GSO.
    /// </summary>
    long SendBatch(SendBatch batch)
    {
        long sent = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            if (Send(batch.Datagram(i), batch.Destination(i)))
            {
                sent += batch.Length(i);
            }
        }

        batch.Clear();
        return sent;
    }
}
