namespace Gateway.Host.Tun;

/// <summary>
/// A layer-3 TUN device: whole IP packets in and out, no link header (Linux IFF_TUN|IFF_NO_PI, Wintun).
/// </summary>
internal interface ITunDevice : IDisposable
{
    /// <summary>The interface name.</summary>
    string Name { get; }

    /// <summary>The MTU in bytes.</summary>
    int Mtu { get; }

    /// <summary>
    /// Starts the read loop on a dedicated thread: packets are read many per wake-up and handed to
    /// <paramref name="receiver"/> one batch at a time, until the device is disposed.
    /// </summary>
    void Start(IPacketReceiver receiver);

    /// <summary>Writes one IP packet to the host; false when the device refused it (closed, queue full). Thread-safe.</summary>
    bool Write(ReadOnlySpan<byte> packet);

    /// <summary>
    /// Queues one IP packet for the host; queued packets reach it on <see cref="FlushWrites"/>, coalesced where the
    /// device can (TCP segments into GSO super-packets). False when the packet was refused. Thread-safe. The default
    /// writes at once.
    /// </summary>
    bool Enqueue(ReadOnlySpan<byte> packet) => Write(packet);

    /// <summary>Writes every queued packet (the end of a batch of <see cref="Enqueue"/> calls). Thread-safe.</summary>
    void FlushWrites()
    {
    }
}
