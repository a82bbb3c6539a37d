namespace Gateway.Sdk.Routing;

/// <summary>
/// How a tunnel plugin hands the gateway packets it received from its peers (decrypted). The dispatcher
/// applies the inbound ACL hooks, answers packets for virtual endpoints itself (replies go back through
/// <c>origin</c>), and writes the rest to the TUN device.
/// </summary>
public interface IPacketInjector
{
    /// <summary>
    /// Delivers one IP packet. The span may be rewritten in place and is not kept after the call.
    /// Malformed packets are counted and dropped.
    /// </summary>
    /// <param name="packet">The IP packet, starting at the IP header.</param>
    /// <param name="origin">The route the packet came from; replies to it are sent there.</param>
    void Deliver(Span<byte> packet, IPacketRoute origin);

    /// <summary>Ends a batch of <see cref="Deliver"/> calls (lets the TUN writer coalesce writes).</summary>
    void Flush();
}
