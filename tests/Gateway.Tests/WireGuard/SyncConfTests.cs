using System.Text.Json;
using Gateway.Plugins.WireGuard.Api;
using Gateway.Plugins.WireGuard.Configuration;
using Gateway.Plugins.WireGuard.Crypto;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.WireGuard;

/// <summary>Live reload like `wg syncconf` (issue 14), on two devices joined in memory: A is reconfigured, B is its peer.</summary>
public sealed class SyncConfTests
{
    private static readonly byte[] OtherKey = Curve25519.PublicKey(Curve25519.GeneratePrivateKey());
    private static readonly byte[] NewKey = Curve25519.PublicKey(Curve25519.GeneratePrivateKey());

    [Fact]
    public void Apply_PeerAddedAndAnotherRemoved_UnchangedPeerKeepsItsSession()
    {
        DeviceLink link = Connected(out WireGuardOptions previous);
        Keypair session = link.PeerOfA.Current!;
        long handshake = link.PeerOfA.LastHandshakeUnixNanos;
        WireGuardOptions next = Options(link, previous.Peers[0], Entry(NewKey, "10.99.0.4/32"));

        SyncResult result = new SyncConf(NullLogger.Instance).Apply(link.A, previous, next, _ => false);

        Assert.Equal([Convert.ToBase64String(NewKey)], result.Added);
        Assert.Equal([Convert.ToBase64String(OtherKey)], result.Removed);
        Assert.Empty(result.Updated);
        Assert.Null(link.A.FindPeer(OtherKey));
        Assert.Null(link.A.AllowedIps.Lookup(NetAddress.Parse("10.99.0.3")));
        Assert.NotNull(link.A.FindPeer(NewKey));
        Assert.Same(link.A.FindPeer(NewKey), link.A.AllowedIps.Lookup(NetAddress.Parse("10.99.0.4")));

        // The unchanged peer: same keypair object, same handshake time, and traffic flows on it without a handshake.
        Assert.Same(session, link.PeerOfA.Current);
        Assert.Equal(handshake, link.PeerOfA.LastHandshakeUnixNanos);
        int sentBefore = link.Sent.Count;
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        Assert.Equal(2, link.InboxB.Packets.Count);
        Assert.Equal(1, link.Sent.Count - sentBefore);
    }

    [Fact]
    public void Apply_RemovedPeer_SessionErasedAndItsPacketsDropped()
    {
        DeviceLink link = Connected(out WireGuardOptions previous);
        uint index = link.PeerOfA.Current!.LocalIndex;
        byte[] capturedFromB = SealFromB(link);
        WireGuardOptions next = Options(link, Entry(OtherKey, "10.99.0.3/32"));

        new SyncConf(NullLogger.Instance).Apply(link.A, previous, next, _ => false);

        Assert.Null(link.A.FindPeer(link.B.Identity.PublicKey));
        Assert.False(link.A.Indices.TryGet(index, out _));
        long dropped = link.A.DroppedPackets;
        link.A.ReceiveDatagram(capturedFromB, DeviceLink.AddressB.Serialize());
        Assert.Empty(link.InboxA.Packets);
        Assert.Equal(dropped + 1, link.A.DroppedPackets);
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        Assert.Equal(1, link.A.Drops(DropReason.NoRoute));
    }

    [Fact]
    public void Apply_ChangedEndpointAllowedIpsKeepaliveAndPsk_AppliedSessionKept()
    {
        DeviceLink link = Connected(out WireGuardOptions previous);
        Keypair session = link.PeerOfA.Current!;
        WireGuardPeerOptions changed = Entry(link.B.Identity.PublicKey, "10.99.0.2/32", "10.98.0.0/16");
        changed.Endpoint = NetEndpoint.Parse("192.0.2.9:51999");
        changed.PersistentKeepalive = 25;
        changed.PresharedKey = new byte[32];
        changed.PresharedKey[0] = 7;
        WireGuardOptions next = Options(link, changed, Entry(OtherKey, "10.99.0.3/32"));

        SyncResult result = new SyncConf(NullLogger.Instance).Apply(link.A, previous, next, _ => false);

        Assert.Equal([link.PeerOfA.PublicKeyBase64], result.Updated);
        Assert.Equal("192.0.2.9:51999", link.PeerOfA.EndpointValue.ToString());
        Assert.Equal(25, link.PeerOfA.PersistentKeepaliveSeconds);
        Assert.Equal(changed.PresharedKey, link.PeerOfA.PresharedKey);
        Assert.Same(link.PeerOfA, link.A.AllowedIps.Lookup(NetAddress.Parse("10.98.1.1")));
        Assert.Same(session, link.PeerOfA.Current);
    }

    [Fact]
    public void Apply_NewPrivateKey_EverySessionErasedAndPeersKept()
    {
        DeviceLink link = Connected(out WireGuardOptions previous);
        WireGuardOptions next = Options(link, previous.Peers.ToArray());
        next.PrivateKey = Curve25519.GeneratePrivateKey();

        SyncResult result = new SyncConf(NullLogger.Instance).Apply(link.A, previous, next, _ => false);

        Assert.True(result.Rekeyed);
        Assert.Equal(Curve25519.PublicKey(next.PrivateKey), link.A.Identity.PublicKey);
        Assert.Null(link.PeerOfA.Current);
        Assert.Equal(2, link.A.Peers.Count);
    }

    [Fact]
    public void Apply_NewListenPort_Rebinds()
    {
        DeviceLink link = Connected(out WireGuardOptions previous);
        WireGuardOptions next = Options(link, previous.Peers.ToArray());
        next.ListenPort = 40001;
        int asked = 0;

        SyncResult result = new SyncConf(NullLogger.Instance).Apply(link.A, previous, next, port => (asked = port) != 0);

        Assert.True(result.Rebound);
        Assert.Equal(40001, asked);
    }

    [Fact]
    public void Apply_PeerChangedWithWgSetButNotInFile_RuntimeChangeKept()
    {
        DeviceLink link = Connected(out WireGuardOptions previous);
        var sync = new SyncConf(NullLogger.Instance);
        link.PeerOfA.SetEndpoint(NetEndpoint.Parse("192.0.2.77:5000"));
        link.A.AllowedIps.Insert(IpPrefix.Parse("10.77.0.0/16"), link.PeerOfA);
        sync.NoteRuntimeSet([$"public_key={Convert.ToHexStringLower(link.B.Identity.PublicKey)}", "endpoint=192.0.2.77:5000"]);

        // Only the other peer's entry changes in the file.
        WireGuardPeerOptions other = Entry(OtherKey, "10.99.0.3/32");
        other.PersistentKeepalive = 5;
        SyncResult result = sync.Apply(link.A, previous, Options(link, previous.Peers[0], other), _ => false);

        Assert.Equal([Convert.ToBase64String(OtherKey)], result.Updated);
        Assert.Equal("192.0.2.77:5000", link.PeerOfA.EndpointValue.ToString());
        Assert.Same(link.PeerOfA, link.A.AllowedIps.Lookup(NetAddress.Parse("10.77.1.1")));
    }

    [Fact]
    public void Apply_FileChangesSettingChangedWithWgSet_FileWins()
    {
        DeviceLink link = Connected(out WireGuardOptions previous);
        var sync = new SyncConf(NullLogger.Instance);
        link.A.AllowedIps.Insert(IpPrefix.Parse("10.77.0.0/16"), link.PeerOfA);
        sync.NoteRuntimeSet([$"public_key={Convert.ToHexStringLower(link.B.Identity.PublicKey)}", "allowed_ip=10.77.0.0/16"]);

        SyncResult result = sync.Apply(link.A, previous, Options(link, Entry(link.B.Identity.PublicKey, "10.99.0.2/32", "10.66.0.0/16"), previous.Peers[1]), _ => false);

        Assert.Equal([link.PeerOfA.PublicKeyBase64], result.Updated);
        Assert.Null(link.A.AllowedIps.Lookup(NetAddress.Parse("10.77.1.1")));
        Assert.Same(link.PeerOfA, link.A.AllowedIps.Lookup(NetAddress.Parse("10.66.1.1")));
    }

    [Fact]
    public void PeersApi_ConnectedDevice_ContractShape()
    {
        DeviceLink link = Connected(out _);
        link.PeerOfA.SetPersistentKeepalive(25);
        DateTimeOffset now = link.Time.GetUtcNow().AddSeconds(12);

        using JsonDocument doc = JsonDocument.Parse(PeersApi.Write(link.A, now));

        JsonElement root = doc.RootElement;
        Assert.Equal(Convert.ToBase64String(link.A.Identity.PublicKey), root.GetProperty("publicKey").GetString());
        Assert.Equal(link.A.ListenPort, root.GetProperty("listenPort").GetInt32());
        JsonElement peers = root.GetProperty("peers");
        Assert.Equal(2, peers.GetArrayLength());
        JsonElement b = peers.EnumerateArray().Single(p => p.GetProperty("publicKey").GetString() == link.PeerOfA.PublicKeyBase64);
        Assert.Equal("192.0.2.2:51821", b.GetProperty("endpoint").GetString());
        Assert.Equal(["10.99.0.2/32"], b.GetProperty("allowedIps").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(link.Time.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"), b.GetProperty("lastHandshake").GetString());
        Assert.Equal(12, b.GetProperty("lastHandshakeSecondsAgo").GetInt64());
        Assert.Equal(link.PeerOfA.RxBytes, b.GetProperty("rxBytes").GetInt64());
        Assert.True(b.GetProperty("txBytes").GetInt64() > 0);
        Assert.Equal(25, b.GetProperty("persistentKeepalive").GetInt32());
        Assert.False(b.TryGetProperty("presharedKey", out _));

        // A peer that never completed a handshake has neither handshake field (the contract omits them).
        JsonElement other = peers.EnumerateArray().Single(p => p.GetProperty("publicKey").GetString() == Convert.ToBase64String(OtherKey));
        Assert.False(other.TryGetProperty("lastHandshake", out _));
        Assert.False(other.TryGetProperty("lastHandshakeSecondsAgo", out _));
        Assert.False(other.TryGetProperty("endpoint", out _));
    }

    [Fact]
    public void PeersApi_WireGuardOff_EmptyPeersNoKey()
    {
        using JsonDocument doc = JsonDocument.Parse(PeersApi.Write(null, DateTimeOffset.UtcNow));
        Assert.Equal(0, doc.RootElement.GetProperty("peers").GetArrayLength());
        Assert.False(doc.RootElement.TryGetProperty("publicKey", out _));
    }

    /// <summary>A and B with a session (one packet A → B delivered), A also configured with a second peer (OtherKey, 10.99.0.3/32).</summary>
    private static DeviceLink Connected(out WireGuardOptions previous)
    {
        var link = new DeviceLink(new FakeTime());
        Peer other = link.A.AddPeer(OtherKey);
        link.A.AllowedIps.Insert(IpPrefix.Parse("10.99.0.3/32"), other);
        link.A.Send(DeviceLink.Packet("10.99.0.1", "10.99.0.2"));
        link.Pump();
        Assert.Single(link.InboxB.Packets);
        Assert.NotNull(link.PeerOfA.Current);
        WireGuardPeerOptions b = Entry(link.B.Identity.PublicKey, "10.99.0.2/32");
        b.Endpoint = NetEndpoint.FromIPEndPoint(DeviceLink.AddressB);
        previous = Options(link, b, Entry(OtherKey, "10.99.0.3/32"));
        return link;
    }

    private static byte[] SealFromB(DeviceLink link)
    {
        int before = link.Sent.Count;
        link.B.Send(DeviceLink.Packet("10.99.0.2", "10.99.0.1"));
        return link.Sent[before].Data;
    }

    private static WireGuardOptions Options(DeviceLink link, params WireGuardPeerOptions[] peers)
    {
        var options = new WireGuardOptions { PrivateKey = link.A.Identity.PrivateKey, ListenPort = 51820 };
        options.Peers.AddRange(peers);
        return options;
    }

    private static WireGuardPeerOptions Entry(byte[] publicKey, params string[] allowed)
    {
        var peer = new WireGuardPeerOptions { PublicKey = publicKey };
        foreach (string prefix in allowed)
        {
            peer.AllowedIps.Add(IpPrefix.Parse(prefix));
        }

        return peer;
    }
}
