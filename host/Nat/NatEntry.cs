using Gateway.Host.Routing;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;

namespace Gateway.Host.Nat;

/// <summary>
/// One TCP session rewritten towards the kernel listener: the original client and virtual endpoint, the
/// NAT port standing for them on the kernel side, the way back, and state for expiry.
/// </summary>
internal sealed class NatEntry(NetEndpoint client, NetEndpoint virtualEndpoint, ushort natPort, StreamBinding binding, IPacketRoute? origin, uint clientIsn = 0)
{
    /// <summary>The original client.</summary>
    public NetEndpoint Client { get; } = client;

    /// <summary>The virtual endpoint the client connected to.</summary>
    public NetEndpoint Virtual { get; } = virtualEndpoint;

    /// <summary>The source port the kernel sees (the session's key on the kernel side).</summary>
    public ushort NatPort { get; } = natPort;

    /// <summary>The stream handler serving the session.</summary>
    public StreamBinding Binding { get; } = binding;

    /// <summary>The tunnel the client came through, or null for the TUN (an application on this host).</summary>
    public IPacketRoute? Origin { get; } = origin;

    /// <summary>The session state (guarded by the table's lock).</summary>
    public NatState State { get; set; } = NatState.Opening;

    /// <summary>Whether a FIN was seen from the client / from the kernel side.</summary>
    public bool ClientFin { get; set; }

    /// <summary>Whether a FIN was seen from the kernel side.</summary>
    public bool ServerFin { get; set; }

    /// <summary>Whether the kernel listener has accepted the connection (it is handed to the plugin once).</summary>
    public bool Accepted { get; set; }

    /// <summary>Environment.TickCount64 after which the entry may be removed.</summary>
    public long Deadline { get; set; }

    /// <summary>
    /// The sequence number of the client's SYN: a half-open session dropped by the table is reset towards the kernel
    /// listener with sequence <c>ClientIsn + 1</c>, the only value its half-open socket accepts (RFC 5961 §3).
    /// </summary>
    public uint ClientIsn { get; } = clientIsn;

    /// <summary>Whether the table has let go of the entry (its port may already serve another session).</summary>
    public bool Removed { get; set; }
}
