using Gateway.Host.Routing;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;
using Gateway.Sdk.Routing;

namespace Gateway.Host.Nat;

/// <summary>
/// The TCP NAT table of DESIGN §2: sessions keyed on the full client 4-tuple, and by NAT port (per address
/// family) for the kernel side. Ports are allocated randomly with a collision check; entries expire by
/// TCP state, refreshed by traffic in both directions. Closed sessions keep their port for a while so the
/// kernel's TIME_WAIT socket for that port is never hit by a new session.
/// </summary>
/// <remarks>
/// A plain lock: only TCP segments for virtual endpoints come here (a few per round trip), never the
/// routed traffic; contention is between the TUN reader and tunnel plugins' delivery threads.
/// </remarks>
internal sealed class NatTable
{
    /// <summary>Lowest NAT port; below it live well-known services the kernel might treat specially.</summary>
    public const int FirstPort = 1024;

    // RFC 5382 REQ-5: an established session's idle timeout must be at least 2 h 4 min.
    private static readonly long EstablishedTimeoutMs = (long)TimeSpan.FromMinutes(124).TotalMilliseconds;

    // RFC 5382 REQ-5: transitory (opening, closing) at least 4 min; a closed session keeps its port beyond
    // Linux's TIME_WAIT (60 s) so its 4-tuple is not reused while the kernel still remembers it.
    private static readonly long TransitoryTimeoutMs = (long)TimeSpan.FromMinutes(4).TotalMilliseconds;
    private static readonly long ClosedTimeoutMs = (long)TimeSpan.FromSeconds(75).TotalMilliseconds;

    private readonly object _lock = new();
    private readonly Dictionary<(NetEndpoint Client, NetEndpoint Virtual), NatEntry> _byTuple = new();
    private readonly NatEntry?[] _v4Ports = new NatEntry?[65536];
    private readonly NatEntry?[] _v6Ports = new NatEntry?[65536];
    private int _count;

    /// <summary>The number of sessions (including closed ones still holding their port).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The session for a client 4-tuple, or null.</summary>
    public NatEntry? Find(NetEndpoint client, NetEndpoint virtualEndpoint)
    {
        lock (_lock)
        {
            return _byTuple.GetValueOrDefault((client, virtualEndpoint));
        }
    }

    /// <summary>The session holding NAT port <paramref name="port"/> of a family, or null.</summary>
    public NatEntry? FindByPort(bool v6, ushort port)
    {
        lock (_lock)
        {
            return (v6 ? _v6Ports : _v4Ports)[port];
        }
    }

    /// <summary>
    /// Creates a session on a random free port and makes it the one for its 4-tuple (a previous session of the
    /// same 4-tuple keeps its port until it expires). Null when every port is taken.
    /// </summary>
    public NatEntry? Create(NetEndpoint client, NetEndpoint virtualEndpoint, StreamBinding binding, IPacketRoute? origin)
    {
        lock (_lock)
        {
            NatEntry?[] ports = virtualEndpoint.Address.IsV6 ? _v6Ports : _v4Ports;
            int port = AllocatePort(ports);
            if (port < 0)
            {
                return null;
            }

            var entry = new NatEntry(client, virtualEndpoint, (ushort)port, binding, origin)
            {
                Deadline = Environment.TickCount64 + TransitoryTimeoutMs,
            };
            ports[port] = entry;
            _byTuple[(client, virtualEndpoint)] = entry;
            _count++;
            return entry;
        }
    }

    /// <summary>Records a segment of <paramref name="entry"/> (flags from either side) and refreshes its expiry.</summary>
    public void Observe(NatEntry entry, bool fromClient, TcpFlags flags)
    {
        lock (_lock)
        {
            if ((flags & TcpFlags.Rst) != 0)
            {
                entry.State = NatState.Closed;
            }
            else if ((flags & TcpFlags.Fin) != 0)
            {
                if (fromClient)
                {
                    entry.ClientFin = true;
                }
                else
                {
                    entry.ServerFin = true;
                }

                entry.State = entry.ClientFin && entry.ServerFin ? NatState.Closed : NatState.HalfClosed;
            }
            else if (entry.State == NatState.Opening && fromClient && (flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Ack)
            {
                // The client's ACK of the kernel's SYN-ACK: the handshake completed.
                entry.State = NatState.Established;
            }

            long timeout = entry.State switch
            {
                NatState.Established => EstablishedTimeoutMs,
                NatState.Closed => ClosedTimeoutMs,
                _ => TransitoryTimeoutMs,
            };
            entry.Deadline = Environment.TickCount64 + timeout;
        }
    }

    /// <summary>Marks the session accepted by the kernel listener; false if it already was (or is closed).</summary>
    public bool TryAccept(NatEntry entry)
    {
        lock (_lock)
        {
            if (entry.Accepted)
            {
                return false;
            }

            entry.Accepted = true;
            return true;
        }
    }

    /// <summary>Removes sessions whose deadline passed; returns how many.</summary>
    public int Sweep(long now)
    {
        int removed = 0;
        lock (_lock)
        {
            removed += Sweep(_v4Ports, now);
            removed += Sweep(_v6Ports, now);
            _count -= removed;
        }

        return removed;
    }

    private int Sweep(NatEntry?[] ports, long now)
    {
        int removed = 0;
        for (int i = FirstPort; i < ports.Length; i++)
        {
            NatEntry? entry = ports[i];
            if (entry is not null && entry.Deadline - now < 0)
            {
                ports[i] = null;
                var key = (entry.Client, entry.Virtual);
                if (_byTuple.TryGetValue(key, out NatEntry? current) && ReferenceEquals(current, entry))
                {
                    _byTuple.Remove(key);
                }

                removed++;
            }
        }

        return removed;
    }

    private static int AllocatePort(NatEntry?[] ports)
    {
        // Random probes first (ports are not predictable from outside, RFC 6056 §3), then a linear scan.
        for (int i = 0; i < 32; i++)
        {
            int candidate = Random.Shared.Next(FirstPort, 65536);
            if (ports[candidate] is null)
            {
                return candidate;
            }
        }

        int start = Random.Shared.Next(FirstPort, 65536);
        for (int i = 0; i < 65536 - FirstPort; i++)
        {
            int candidate = FirstPort + ((start - FirstPort + i) % (65536 - FirstPort));
            if (ports[candidate] is null)
            {
                return candidate;
            }
        }

        return -1;
    }
}
