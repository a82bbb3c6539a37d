using System.Net;
using System.Net.Sockets;
using Gateway.EndToEnd.Infrastructure;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Plugins.WireGuard.Noise;
using Gateway.Sdk.Networking;

namespace Gateway.EndToEnd.WireGuard;

/// <summary>
/// Our WireGuard engine (in-process, UDP socket in namespace A) against Debian's wireguard-go + wg (namespace B),
/// joined by a veth pair. Only addresses inside these namespaces are used.
/// </summary>
public sealed class WireGuardInteropTests : IAsyncLifetime
{
    private static readonly NetAddress Ours = NetAddress.Parse("10.99.0.1");
    private static readonly NetAddress Theirs = NetAddress.Parse("10.99.0.2");
    private static readonly NetAddress Ours6 = NetAddress.Parse("fd99::1");
    private static readonly NetAddress Theirs6 = NetAddress.Parse("fd99::2");
    // Generous: the first ping rides the first handshake, retried every 5 s (REKEY_TIMEOUT) when a loaded machine is slow.
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private NetworkNamespace _a = null!;
    private NetworkNamespace _b = null!;
    private int _ourPort;
    private int _theirPort;
    private string _psk = null!;

    public async Task InitializeAsync()
    {
        _a = await NetworkNamespace.CreateAsync("wga");
        _b = await NetworkNamespace.CreateAsync("wgb");
        await _a.ConnectAsync(_b, "192.168.241.1/24", "192.168.241.2/24", "wgv");
        _ourPort = NetworkNamespace.RandomPort();
        _theirPort = _ourPort + 1;
        _psk = (await ProcessRunner.ShCheckedAsync("wg genpsk")).Trim();
    }

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    [Fact]
    public async Task Send_EchoRequestWhenWeInitiate_EchoReplyComesBackDecrypted()
    {
        using InProcessEngine engine = await InProcessEngine.StartAsync(_a, _ourPort, InProcessEngine.NewPrivateKey());
        await using WireGuardGoPeer wg = await WireGuardGoPeer.StartAsync(_b, _theirPort, engine.PublicKeyBase64, _psk, $"192.168.241.1:{_ourPort}");
        engine.AddPeer(wg.PublicKey, _psk, $"192.168.241.2:{_theirPort}", "10.99.0.2/32", "fd99::2/128");

        byte[]? reply = await PingAsync(engine, Ours, Theirs, 1);
        Assert.NotNull(reply);
        Assert.Equal(Theirs, NetAddress.ReadV4(reply.AsSpan(12)));

        byte[]? reply6 = await PingAsync(engine, Ours6, Theirs6, 2);
        Assert.NotNull(reply6);
        Assert.Equal(Theirs6, NetAddress.ReadV6(reply6.AsSpan(8)));

        CommandResult show = await wg.WgAsync($"show {wg.InterfaceName} latest-handshakes");
        Assert.Equal(0, show.ExitCode);
        Assert.Contains(engine.PublicKeyBase64, show.StdOut);
        Assert.DoesNotMatch(@"\t0\s*$", show.StdOut.Trim());
        CommandResult transfer = await wg.WgAsync($"show {wg.InterfaceName} transfer");
        Assert.Matches(@"\t[1-9]\d*\t[1-9]\d*", transfer.StdOut);
    }

    [Fact]
    public async Task Deliver_PingFromWireGuardGoSide_RequestDeliveredAndAnswered()
    {
        using InProcessEngine engine = await InProcessEngine.StartAsync(_a, _ourPort, InProcessEngine.NewPrivateKey());
        engine.Tunnel.AnswerPings = true;
        await using WireGuardGoPeer wg = await WireGuardGoPeer.StartAsync(_b, _theirPort, engine.PublicKeyBase64, _psk, $"192.168.241.1:{_ourPort}");
        // No endpoint on our side: wireguard-go must initiate, and we learn its endpoint from the handshake.
        engine.AddPeer(wg.PublicKey, _psk, null, "10.99.0.2/32", "fd99::2/128");

        CommandResult ping = await _b.ShAsync("ping -c 3 -i 0.3 -W 5 10.99.0.1", TimeSpan.FromSeconds(30));
        Assert.True(ping.ExitCode == 0, ping.Output);
        CommandResult ping6 = await _b.ShAsync("ping -6 -c 3 -i 0.3 -W 5 fd99::1", TimeSpan.FromSeconds(30));
        Assert.True(ping6.ExitCode == 0, ping6.Output);
        Assert.True(engine.Tunnel.DeliveredCount >= 6);
    }

    [Fact]
    public async Task ReceiveDatagram_ReplayedDataPacket_DroppedSilently()
    {
        using InProcessEngine engine = await InProcessEngine.StartAsync(_a, _ourPort, InProcessEngine.NewPrivateKey());
        await using WireGuardGoPeer wg = await WireGuardGoPeer.StartAsync(_b, _theirPort, engine.PublicKeyBase64, _psk, $"192.168.241.1:{_ourPort}");
        engine.AddPeer(wg.PublicKey, _psk, $"192.168.241.2:{_theirPort}", "10.99.0.2/32");
        Assert.NotNull(await PingAsync(engine, Ours, Theirs, 1));

        // Capture a real data message from wireguard-go: a socket in namespace A takes over as our endpoint
        // for one packet (wg set endpoint), then the captured bytes are replayed into our engine twice.
        using Socket tap = await NetnsThread.RunAsync(_a.Name, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Any, 0));
            return s;
        });
        int tapPort = ((IPEndPoint)tap.LocalEndPoint!).Port;
        await wg.WgAsync($"set {wg.InterfaceName} peer {engine.PublicKeyBase64} endpoint 192.168.241.1:{tapPort}");
        await _b.ShAsync("ping -c 1 -W 1 10.99.0.1", TimeSpan.FromSeconds(10));
        byte[] buffer = new byte[2048];
        tap.ReceiveTimeout = 10000;
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        int length = tap.ReceiveFrom(buffer, ref from);
        while (buffer[0] != 4)
        {
            length = tap.ReceiveFrom(buffer, ref from);
        }

        byte[] captured = buffer.AsSpan(0, length).ToArray();
        var source = ((IPEndPoint)from).Serialize();
        int before = engine.Tunnel.DeliveredCount;
        engine.Device.ReceiveDatagram(captured.ToArray(), source);
        Assert.Equal(before + 1, engine.Tunnel.DeliveredCount);
        long dropped = engine.Device.DroppedPackets;
        engine.Device.ReceiveDatagram(captured.ToArray(), source);
        Assert.Equal(before + 1, engine.Tunnel.DeliveredCount);
        Assert.Equal(dropped + 1, engine.Device.DroppedPackets);
    }

    [Fact]
    public async Task ReceiveDatagram_InitiationFromUnknownKey_DroppedWithoutAnswer()
    {
        using InProcessEngine engine = await InProcessEngine.StartAsync(_a, _ourPort, InProcessEngine.NewPrivateKey());
        await using WireGuardGoPeer wg = await WireGuardGoPeer.StartAsync(_b, _theirPort, engine.PublicKeyBase64, _psk, $"192.168.241.1:{_ourPort}");
        engine.AddPeer(wg.PublicKey, _psk, null, "10.99.0.2/32");

        // wireguard-go now signs with a key we do not know: its initiations reach us and must go unanswered.
        await wg.WgAsync($"set {wg.InterfaceName} private-key /dev/stdin <<< $(wg genkey)");
        long dropped = engine.Device.DroppedPackets;
        CommandResult ping = await _b.ShAsync("ping -c 2 -W 2 10.99.0.1", TimeSpan.FromSeconds(20));
        Assert.NotEqual(0, ping.ExitCode);
        Assert.True(engine.Device.DroppedPackets > dropped);
        Assert.Equal(0, engine.Tunnel.DeliveredCount);
        CommandResult show = await wg.WgAsync($"show {wg.InterfaceName} latest-handshakes");
        Assert.Matches(@"\t0\s*$", show.StdOut.Trim());

        // A hand-made initiation from a third key, sent straight to our port: it must arrive (the engine counts it as
        // an invalid handshake: a valid mac1, a key it does not know) and get no answer.
        var stranger = new LocalIdentity(InProcessEngine.NewPrivateKey());
        var hs = new Handshake(stranger, engine.Device.Identity.PublicKey, null);
        byte[] initiation = new byte[MessageFormat.InitiationSize];
        Assert.True(NoiseProtocol.CreateInitiation(stranger, hs, 1234, DateTimeOffset.UtcNow, initiation));
        new CookieGenerator(engine.Device.Identity.PublicKey, TimeProvider.System, TimeSpan.FromMinutes(2)).AddMacs(initiation);
        using Socket probe = await NetnsThread.RunAsync(_a.Name, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        long invalidBefore = engine.Device.Drops(DropReason.HandshakeInvalid);
        probe.SendTo(initiation, new IPEndPoint(IPAddress.Loopback, _ourPort));
        DateTime deadline = DateTime.UtcNow.AddSeconds(10);
        while (engine.Device.Drops(DropReason.HandshakeInvalid) == invalidBefore && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(invalidBefore + 1, engine.Device.Drops(DropReason.HandshakeInvalid));
        probe.ReceiveTimeout = 2000;
        byte[] answer = new byte[256];
        SocketException ex = Assert.Throws<SocketException>(() => probe.Receive(answer));
        Assert.Equal(SocketError.TimedOut, ex.SocketErrorCode);
    }

    [Fact]
    public async Task Send_ShortRekeyTimers_TrafficKeepsFlowingAcrossRekeys()
    {
        var timings = new WireGuardTimings { RekeyAfterTime = TimeSpan.FromSeconds(2), RekeyTimeout = TimeSpan.FromSeconds(1), KeepaliveTimeout = TimeSpan.FromSeconds(2), RejectAfterTime = TimeSpan.FromSeconds(30), TimerTick = TimeSpan.FromMilliseconds(50) };
        using InProcessEngine engine = await InProcessEngine.StartAsync(_a, _ourPort, InProcessEngine.NewPrivateKey(), timings);
        await using WireGuardGoPeer wg = await WireGuardGoPeer.StartAsync(_b, _theirPort, engine.PublicKeyBase64, _psk, $"192.168.241.1:{_ourPort}");
        Peer peer = engine.AddPeer(wg.PublicKey, _psk, $"192.168.241.2:{_theirPort}", "10.99.0.2/32");

        var keypairs = new HashSet<Keypair>(ReferenceEqualityComparer.Instance);
        int answered = 0;
        const int Count = 40;
        for (ushort seq = 1; seq <= Count; seq++)
        {
            if (await PingAsync(engine, Ours, Theirs, seq, TimeSpan.FromSeconds(3)) is not null)
            {
                answered++;
            }

            if (peer.Current is { } current)
            {
                keypairs.Add(current);
            }

            await Task.Delay(150);
        }

        // A rekey never loses a packet: the old session stays usable for sending until REJECT_AFTER_TIME (30 s here)
        // and for receiving while it is the previous one, so every echo across the rekeys must come back.
        Assert.True(keypairs.Count >= 3, $"only {keypairs.Count} sessions seen: no rekey happened");
        Assert.True(answered == Count, $"{answered}/{Count} pings answered across {keypairs.Count} sessions");
    }

    [Fact]
    public async Task ReceiveDatagram_PeerMovesToNewPort_EndpointFollows()
    {
        using InProcessEngine engine = await InProcessEngine.StartAsync(_a, _ourPort, InProcessEngine.NewPrivateKey());
        engine.Tunnel.AnswerPings = true;
        await using WireGuardGoPeer wg = await WireGuardGoPeer.StartAsync(_b, _theirPort, engine.PublicKeyBase64, _psk, $"192.168.241.1:{_ourPort}");
        Peer peer = engine.AddPeer(wg.PublicKey, _psk, $"192.168.241.2:{_theirPort}", "10.99.0.2/32");
        CommandResult first = await _b.ShAsync("ping -c 2 -i 0.3 -W 5 10.99.0.1", TimeSpan.FromSeconds(30));
        Assert.True(first.ExitCode == 0, first.Output);

        int moved = _theirPort + 7;
        await wg.WgAsync($"set {wg.InterfaceName} listen-port {moved}");
        CommandResult second = await _b.ShAsync("ping -c 3 -i 0.3 -W 5 10.99.0.1", TimeSpan.FromSeconds(30));
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Equal((int?)moved, (int?)peer.EndpointValue?.Port);
    }

    private static async Task<byte[]?> PingAsync(InProcessEngine engine, NetAddress from, NetAddress to, ushort sequence, TimeSpan? timeout = null)
    {
        const ushort Id = 0x4747;
        byte[] request = from.IsV6 ? IcmpPackets.EchoV6(from, to, Id, sequence, reply: false) : IcmpPackets.EchoV4(from, to, Id, sequence, reply: false);
        Task<byte[]?> wait = engine.Tunnel.WaitForAsync(p => IcmpPackets.IsEchoReply(p, Id, sequence), timeout ?? Wait);
        engine.Device.Send(request);
        engine.Device.Flush();
        return await wait;
    }
}
