namespace Gateway.Host.Tun;

/// <summary>Takes the batches a <see cref="ITunDevice"/> read loop produces (the dispatcher).</summary>
internal interface IPacketReceiver
{
    /// <summary>Handles every packet of <paramref name="batch"/>; the buffers are reused after the call returns.</summary>
    void OnPackets(PacketBatch batch);
}
