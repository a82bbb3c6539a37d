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
}
