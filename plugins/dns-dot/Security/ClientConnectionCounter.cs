using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Security;

/// <summary>
/// Open TCP, DoT and DoH connections per client address, for <c>maxConnectionsPerClient</c> (unbound's
/// tcp-connection-limit, dnsdist's setMaxTCPConnectionsPerClient). An address leaves the table with its last
/// connection, so the table holds at most as many entries as there are open connections.
/// </summary>
internal sealed class ClientConnectionCounter
{
    private readonly Dictionary<NetAddress, int> _open = new();

    /// <summary>Connections open now, all clients together.</summary>
    public int Total
    {
        get
        {
            lock (_open)
            {
                int total = 0;
                foreach (int count in _open.Values)
                {
                    total += count;
                }

                return total;
            }
        }
    }

    /// <summary>Counts a new connection from <paramref name="client"/> unless it already holds <paramref name="cap"/> (0: no cap).</summary>
    public bool TryEnter(NetAddress client, int cap)
    {
        lock (_open)
        {
            _open.TryGetValue(client, out int count);
            if (cap > 0 && count >= cap)
            {
                return false;
            }

            _open[client] = count + 1;
            return true;
        }
    }

    /// <summary>A connection counted by <see cref="TryEnter"/> closed.</summary>
    public void Leave(NetAddress client)
    {
        lock (_open)
        {
            if (_open.TryGetValue(client, out int count))
            {
                if (count <= 1)
                {
                    _open.Remove(client);
                }
                else
                {
                    _open[client] = count - 1;
                }
            }
        }
    }
}
