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
/// <para>
/// Bounded (<see cref="NatLimits"/>) the way Linux conntrack bounds itself: a source holds at most
/// <see cref="NatLimits.MaxPerSource"/> live sessions, and at that cap its own oldest half-open session makes room
/// for its next SYN, so a SYN flood only ever recycles the flooder's own ports. When a family's ports run out, the
/// oldest closed session (waiting out TIME_WAIT) goes first, then the oldest half-open one ("early drop");
/// established sessions are never dropped to make room. Half-open sessions expire after
/// <see cref="NatLimits.HalfOpenTimeout"/>, refreshed by the client only: the kernel's SYN-ACK retransmissions to
/// a client that never answers must not keep its port.
/// </para>
/// <para>
/// A plain lock: only TCP segments for virtual endpoints come here (a few per round trip), never the
/// routed traffic; contention is between the TUN reader and tunnel plugins' delivery threads.
/// </para>
/// </remarks>
internal sealed class NatTable
{
    /// <summary>Lowest NAT port; below it live well-known services the kernel might treat specially.</summary>
    public const int FirstPort = 1024;

    /// <summary>IPv6 sources are counted per /64, the block one host (or one attacker) usually has.</summary>
    public const int SourcePrefixV6 = 64;

    // RFC 5382 REQ-5: an established session's idle timeout must be at least 2 h 4 min.
    private static readonly long EstablishedTimeoutMs = (long)TimeSpan.FromMinutes(124).TotalMilliseconds;

    // RFC 5382 REQ-5: transitory (closing) at least 4 min; a closed session keeps its port beyond
    // Linux's TIME_WAIT (60 s) so its 4-tuple is not reused while the kernel still remembers it.
    private static readonly long TransitoryTimeoutMs = (long)TimeSpan.FromMinutes(4).TotalMilliseconds;
    private static readonly long ClosedTimeoutMs = (long)TimeSpan.FromSeconds(75).TotalMilliseconds;

    private readonly object _lock = new();
    private readonly Dictionary<(NetEndpoint Client, NetEndpoint Virtual), NatEntry> _byTuple = new();
    private readonly Dictionary<NetAddress, Source> _sources = new();
    private readonly Family _v4 = new();
    private readonly Family _v6 = new();
    private readonly long _halfOpenTimeoutMs;
    private int _count;
    private long _evictedForSource;
    private long _evictedForRoom;
    private long _expiredHalfOpen;

    /// <summary>A table with the default limits.</summary>
    public NatTable()
        : this(NatLimits.Default)
    {
    }

    /// <summary>A table bounded by <paramref name="limits"/>.</summary>
    public NatTable(NatLimits limits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limits.MaxSessions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(limits.MaxPerSource, 1);
        Limits = limits;
        _halfOpenTimeoutMs = (long)limits.HalfOpenTimeout.TotalMilliseconds;
    }

    /// <summary>The limits this table enforces.</summary>
    public NatLimits Limits { get; }

    /// <summary>The number of sessions (including closed ones still holding their port).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Half-open sessions dropped because their source reached <see cref="NatLimits.MaxPerSource"/>.</summary>
    public long EvictedForSource => Interlocked.Read(ref _evictedForSource);

    /// <summary>Closed or half-open sessions dropped because their family's ports ran out.</summary>
    public long EvictedForRoom => Interlocked.Read(ref _evictedForRoom);

    /// <summary>Half-open sessions removed after <see cref="NatLimits.HalfOpenTimeout"/>.</summary>
    public long ExpiredHalfOpen => Interlocked.Read(ref _expiredHalfOpen);

    /// <summary>Live (not closed) sessions of the source of <paramref name="client"/> (an IPv4 address, an IPv6 /64).</summary>
    public int LiveSessionsOf(NetAddress client)
    {
        lock (_lock)
        {
            return _sources.TryGetValue(SourceKey(client), out Source? source) ? source.Live : 0;
        }
    }

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
            return (v6 ? _v6 : _v4).Ports[port];
        }
    }

    /// <summary>
    /// The session the kernel knows as <paramref name="peer"/> (virtual IP : NAT port), matched on the full address,
    /// not the port alone: a port of another virtual IP is not this session.
    /// </summary>
    public NatEntry? FindByKernelPeer(NetEndpoint peer)
    {
        NatEntry? entry = FindByPort(peer.Address.IsV6, peer.Port);
        return entry is not null && entry.Virtual.Address == peer.Address ? entry : null;
    }

    /// <summary>
    /// Creates a session on a random free port and makes it the one for its 4-tuple (a previous session of the
    /// same 4-tuple is closed: its client started over). Null, with the reason, when the limits leave no room.
    /// </summary>
    /// <param name="client">The client endpoint.</param>
    /// <param name="virtualEndpoint">The virtual endpoint it connects to.</param>
    /// <param name="binding">The stream handler serving the session.</param>
    /// <param name="origin">The tunnel the SYN came through, or null for the TUN.</param>
    /// <param name="clientIsn">The sequence number of the client's SYN.</param>
    /// <param name="refusal">Why no session was made, or <see cref="NatRefusal.None"/>.</param>
    /// <param name="evicted">
    /// A half-open session dropped to make room, or null: the caller resets it towards the kernel listener so the
    /// kernel forgets the handshake before the port serves someone else.
    /// </param>
    public NatEntry? Create(
        NetEndpoint client,
        NetEndpoint virtualEndpoint,
        StreamBinding binding,
        IPacketRoute? origin,
        uint clientIsn,
        out NatRefusal refusal,
        out NatEntry? evicted)
    {
        evicted = null;
        lock (_lock)
        {
            Family family = virtualEndpoint.Address.IsV6 ? _v6 : _v4;
            NetAddress sourceKey = SourceKey(client.Address);
            if (_byTuple.TryGetValue((client, virtualEndpoint), out NatEntry? previous))
            {
                // A new SYN on a 4-tuple whose session is past its handshake: the client abandoned the old one, which
                // stops counting against its source before the cap is checked.
                MarkClosed(previous);
                previous.Deadline = Environment.TickCount64 + ClosedTimeoutMs;
            }

            if (_sources.TryGetValue(sourceKey, out Source? source) && source.Live >= Limits.MaxPerSource)
            {
                // The source's own oldest handshake pays for its new one; others' sessions are untouched.
                evicted = OldestHalfOpen(source.Opening);
                if (evicted is null)
                {
                    refusal = NatRefusal.SourceLimit;
                    return null;
                }

                Remove(evicted);
                _evictedForSource++;
            }

            int port = family.Count >= Limits.MaxSessions ? -1 : AllocatePort(family.Ports);
            if (port < 0)
            {
                NatEntry? victim = OldestClosed(family.Closed) ?? OldestHalfOpen(family.Opening);
                if (victim is null)
                {
                    refusal = NatRefusal.Exhausted;
                    return null;
                }

                Remove(victim);
                _evictedForRoom++;
                if (victim.State == NatState.Opening)
                {
                    evicted = victim;
                }

                port = AllocatePort(family.Ports);
            }

            var entry = new NatEntry(client, virtualEndpoint, (ushort)port, binding, origin, clientIsn)
            {
                Deadline = Environment.TickCount64 + _halfOpenTimeoutMs,
            };
            family.Ports[port] = entry;
            family.Count++;
            family.Opening.Enqueue(entry);
            _byTuple[(client, virtualEndpoint)] = entry;
            if (!_sources.TryGetValue(sourceKey, out source))
            {
                source = new Source();
                _sources[sourceKey] = source;
            }

            source.Live++;
            source.Opening.Enqueue(entry);
            Compact(source.Opening, source.Live, NatState.Opening);
            Compact(family.Opening, family.Count, NatState.Opening);
            _count++;
            refusal = NatRefusal.None;
            return entry;
        }
    }

    /// <summary>Records a segment of <paramref name="entry"/> (flags from either side) and refreshes its expiry.</summary>
    public void Observe(NatEntry entry, bool fromClient, TcpFlags flags)
    {
        lock (_lock)
        {
            if (entry.Removed)
            {
                return;
            }

            if ((flags & TcpFlags.Rst) != 0)
            {
                MarkClosed(entry);
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

                if (entry.ClientFin && entry.ServerFin)
                {
                    MarkClosed(entry);
                }
                else if (entry.State != NatState.Closed)
                {
                    entry.State = NatState.HalfClosed;
                }
            }
            else if (entry.State == NatState.Opening && fromClient && (flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Ack)
            {
                // The client's ACK of the kernel's SYN-ACK: the handshake completed.
                entry.State = NatState.Established;
            }

            if (entry.State == NatState.Opening && !fromClient)
            {
                // Only the client keeps a handshake alive; the kernel retransmitting its SYN-ACK does not.
                return;
            }

            long timeout = entry.State switch
            {
                NatState.Opening => _halfOpenTimeoutMs,
                NatState.Established => EstablishedTimeoutMs,
                NatState.Closed => ClosedTimeoutMs,
                _ => TransitoryTimeoutMs,
            };
            entry.Deadline = Environment.TickCount64 + timeout;
        }
    }

    /// <summary>Marks the session accepted by the kernel listener; false if it already was (or is gone).</summary>
    public bool TryAccept(NatEntry entry)
    {
        lock (_lock)
        {
            if (entry.Accepted || entry.Removed)
            {
                return false;
            }

            entry.Accepted = true;
            return true;
        }
    }

    /// <summary>
    /// Removes sessions whose deadline passed; returns how many. Half-open ones among them are added to
    /// <paramref name="halfOpen"/> (when given) so the caller can reset them towards the kernel listener.
    /// </summary>
    public int Sweep(long now, List<NatEntry>? halfOpen = null)
    {
        int removed = 0;
        lock (_lock)
        {
            removed += Sweep(_v4, now, halfOpen);
            removed += Sweep(_v6, now, halfOpen);
            Compact(_v4.Closed, _v4.Count, NatState.Closed);
            Compact(_v6.Closed, _v6.Count, NatState.Closed);
        }

        return removed;
    }

    private int Sweep(Family family, long now, List<NatEntry>? halfOpen)
    {
        int removed = 0;
        NatEntry?[] ports = family.Ports;
        for (int i = FirstPort; i < ports.Length; i++)
        {
            NatEntry? entry = ports[i];
            if (entry is not null && entry.Deadline - now < 0)
            {
                if (entry.State == NatState.Opening)
                {
                    _expiredHalfOpen++;
                    halfOpen?.Add(entry);
                }

                Remove(entry);
                removed++;
            }
        }

        return removed;
    }

    /// <summary>Takes an entry out of every index; its port is free from now on.</summary>
    private void Remove(NatEntry entry)
    {
        Family family = entry.Virtual.Address.IsV6 ? _v6 : _v4;
        if (ReferenceEquals(family.Ports[entry.NatPort], entry))
        {
            family.Ports[entry.NatPort] = null;
            family.Count--;
            _count--;
        }

        var key = (entry.Client, entry.Virtual);
        if (_byTuple.TryGetValue(key, out NatEntry? current) && ReferenceEquals(current, entry))
        {
            _byTuple.Remove(key);
        }

        if (entry.State != NatState.Closed)
        {
            ReleaseSource(entry);
        }

        entry.Removed = true;
    }

    /// <summary>Moves a session to Closed: it no longer counts against its source and may be dropped first for room.</summary>
    private void MarkClosed(NatEntry entry)
    {
        if (entry.State == NatState.Closed)
        {
            return;
        }

        entry.State = NatState.Closed;
        ReleaseSource(entry);
        (entry.Virtual.Address.IsV6 ? _v6 : _v4).Closed.Enqueue(entry);
    }

    private void ReleaseSource(NatEntry entry)
    {
        NetAddress key = SourceKey(entry.Client.Address);
        if (_sources.TryGetValue(key, out Source? source) && --source.Live <= 0)
        {
            _sources.Remove(key);
        }
    }

    private static NatEntry? OldestHalfOpen(Queue<NatEntry> opening)
    {
        while (opening.TryDequeue(out NatEntry? entry))
        {
            if (!entry.Removed && entry.State == NatState.Opening)
            {
                return entry;
            }
        }

        return null;
    }

    private static NatEntry? OldestClosed(Queue<NatEntry> closed)
    {
        while (closed.TryDequeue(out NatEntry? entry))
        {
            if (!entry.Removed)
            {
                return entry;
            }
        }

        return null;
    }

    /// <summary>
    /// Drops entries that left the state a queue tracks (the queues are cleaned lazily) once they outnumber the
    /// live ones, so a source with long-lived sessions and steady churn does not grow its queue without bound.
    /// </summary>
    private static void Compact(Queue<NatEntry> queue, int live, NatState kept)
    {
        if (queue.Count <= (2 * live) + 64)
        {
            return;
        }

        int n = queue.Count;
        for (int i = 0; i < n; i++)
        {
            NatEntry entry = queue.Dequeue();
            if (!entry.Removed && entry.State == kept)
            {
                queue.Enqueue(entry);
            }
        }
    }

    private static NetAddress SourceKey(NetAddress address) =>
        address.IsV6 ? new IpPrefix(address, SourcePrefixV6).Network : address;

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

    /// <summary>The ports of one address family and its eviction queues (oldest first, cleaned lazily).</summary>
    private sealed class Family
    {
        public readonly NatEntry?[] Ports = new NatEntry?[65536];
        public readonly Queue<NatEntry> Opening = new();
        public readonly Queue<NatEntry> Closed = new();
        public int Count;
    }

    /// <summary>One source's live sessions and its half-open ones, oldest first.</summary>
    private sealed class Source
    {
        public readonly Queue<NatEntry> Opening = new();
        public int Live;
    }
}
