using System.Net;
using BenchmarkDotNet.Attributes;
using Gateway.Plugins.WireGuard.Conn;
using Gateway.Plugins.WireGuard.Crypto;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks.WireGuard;

/// <summary>
/// The WireGuard data path without syscalls: an IP packet handed to device A (trie lookup, padding, ChaCha20-Poly1305
/// seal) goes straight into device B (index lookup, open in place, replay window, AllowedIPs check, delivery).
/// </summary>
[MemoryDiagnoser]
public class WireGuardDataPathBenchmarks
{
    private WireGuardDevice _a = null!;
    private WireGuardDevice _b = null!;
    private Counter _inboxB = null!;
    private byte[] _packet = null!;

    [Params(64, 1420)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _inboxB = new Counter();
        _a = new WireGuardDevice(Curve25519.GeneratePrivateKey(), new Counter(), NullLogger.Instance);
        _b = new WireGuardDevice(Curve25519.GeneratePrivateKey(), _inboxB, NullLogger.Instance);
        var addressA = new IPEndPoint(IPAddress.Parse("192.0.2.1"), 1);
        var addressB = new IPEndPoint(IPAddress.Parse("192.0.2.2"), 2);
        Peer peerOfA = _a.AddPeer(_b.Identity.PublicKey);
        peerOfA.SetEndpoint(NetEndpoint.FromIPEndPoint(addressB));
        _a.AllowedIps.Insert(IpPrefix.Parse("10.99.0.2/32"), peerOfA);
        Peer peerOfB = _b.AddPeer(_a.Identity.PublicKey);
        peerOfB.SetEndpoint(NetEndpoint.FromIPEndPoint(addressA));
        _b.AllowedIps.Insert(IpPrefix.Parse("10.99.0.1/32"), peerOfB);
        _a.Start(new DirectSink(_b, addressA.Serialize()), runTimers: false);
        _b.Start(new DirectSink(_a, addressB.Serialize()), runTimers: false);

        _packet = new byte[Size];
        _packet[0] = 0x45;
        _packet[2] = (byte)(Size >> 8);
        _packet[3] = (byte)Size;
        NetAddress.Parse("10.99.0.1").WriteTo(_packet.AsSpan(12));
        NetAddress.Parse("10.99.0.2").WriteTo(_packet.AsSpan(16));
        _a.Send(_packet);
        if (_inboxB.Count != 1)
        {
            throw new InvalidOperationException("handshake did not complete");
        }
    }

    [Benchmark]
    public void EncryptSendDecryptDeliver() => _a.Send(_packet);

    /// <summary>The plugin's mode: sealed into the outbox (batch of 64), sent on Flush through the sink's SendBatch.</summary>
    [Benchmark(OperationsPerInvoke = 64)]
    public void EncryptSendDecryptDeliverBatched64()
    {
        _a.BatchSends = true;
        for (int i = 0; i < 64; i++)
        {
            _a.Send(_packet);
        }

        _a.Flush();
    }

    private sealed class Counter : IPacketInjector
    {
        public int Count;

        public void Deliver(Span<byte> packet, IPacketRoute origin) => Count++;

        public void Flush()
        {
        }
    }

    private sealed class DirectSink(WireGuardDevice to, SocketAddress from) : IDatagramSink
    {
        private readonly byte[] _buffer = new byte[70000];

        public bool Send(ReadOnlySpan<byte> datagram, SocketAddress destination)
        {
            // Copy as the wire would: the receiver decrypts in place.
            datagram.CopyTo(_buffer);
            to.ReceiveDatagram(_buffer.AsSpan(0, datagram.Length), from);
            return true;
        }
    }
}
