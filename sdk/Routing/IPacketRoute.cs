namespace Gateway.Sdk.Routing;

/// <summary>
/// A destination for whole IP packets: a tunnel plugin's way to its peers. Registered for prefixes with
/// <see cref="Plugins.IPluginContext.AddRoute"/>, and passed as the origin of packets the tunnel delivers,
/// so that replies from virtual endpoints go back through it.
/// </summary>
public interface IPacketRoute
{
    /// <summary>A short name for logs and metrics (for example "wireguard").</summary>
    string Name { get; }

    /// <summary>
    /// Takes one IP packet (starting at the IP header). The span is valid only during the call: copy it.
    /// Called on the dispatcher's thread, many times per batch: queue the work, do not block.
    /// </summary>
    void Send(ReadOnlySpan<byte> packet);

    /// <summary>Called after a batch of <see cref="Send"/> calls; a good moment to hand queued packets to workers.</summary>
    void Flush();
}
