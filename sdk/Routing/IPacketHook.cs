namespace Gateway.Sdk.Routing;

/// <summary>Which way a packet is travelling through the dispatcher.</summary>
public enum PacketDirection
{
    /// <summary>Read from the TUN device: sent by an application on this host.</summary>
    Outbound,

    /// <summary>Delivered by a tunnel plugin: sent by a remote peer.</summary>
    Inbound,
}

/// <summary>What a packet hook decided.</summary>
public enum HookResult
{
    /// <summary>Let the packet continue through the dispatcher.</summary>
    Continue,

    /// <summary>Drop the packet (counted as dropped by the hook's plugin).</summary>
    Drop,

    /// <summary>The hook took care of the packet; the dispatcher does nothing more with it.</summary>
    Consumed,
}

/// <summary>
/// A raw packet hook, run by the dispatcher before virtual-endpoint interception and routing. Inbound
/// hooks are the ACL for tunnel-originated traffic.
/// </summary>
/// <remarks>Runs on the packet path for every packet: no allocation, no blocking, no exceptions.</remarks>
public interface IPacketHook
{
    /// <summary>Inspects (and may rewrite in place) one IP packet.</summary>
    /// <param name="direction">Outbound from the TUN, or inbound from a tunnel.</param>
    /// <param name="packet">The IP packet; valid only during the call.</param>
    /// <param name="origin">For inbound packets, the route they came from; null for outbound.</param>
    HookResult OnPacket(PacketDirection direction, Span<byte> packet, IPacketRoute? origin);
}
