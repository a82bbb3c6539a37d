using System.Collections.Concurrent;
using Gateway.Host.Tun;

namespace Gateway.Tests.Tun;

/// <summary>A TUN device in memory: tests push "read" packets through the receiver and inspect what was written.</summary>
internal sealed class InMemoryTunDevice(int mtu = 1420) : ITunDevice
{
    private readonly PacketBatch _batch = new(64, 1 << 20);
    private IPacketReceiver? _receiver;

    public string Name => "mem0";

    public int Mtu { get; } = mtu;

    /// <summary>Packets the dispatcher wrote to the host.</summary>
    public ConcurrentQueue<byte[]> Written { get; } = new();

    public void Start(IPacketReceiver receiver) => _receiver = receiver;

    public bool Write(ReadOnlySpan<byte> packet)
    {
        Written.Enqueue(packet.ToArray());
        return true;
    }

    /// <summary>Delivers packets as one read batch, as the real read loop would.</summary>
    public void Read(params byte[][] packets)
    {
        _batch.Clear();
        foreach (byte[] packet in packets)
        {
            Assert.True(_batch.TryAdd(packet), "the test batch is full");
        }

        _receiver!.OnPackets(_batch);
    }

    public byte[] TakeWritten()
    {
        Assert.True(Written.TryDequeue(out byte[]? packet), "nothing was written to the TUN");
        return packet;
    }

    public void Dispose()
    {
    }
}
