using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.WireGuard.Conn;
using Gateway.Plugins.WireGuard.Crypto;
using Gateway.Plugins.WireGuard.Noise;
using Gateway.Plugins.WireGuard.Routing;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.WireGuard.Device;

/// <summary>
/// A WireGuard interface: our identity, the peers, cryptokey routing, and the message handling of the
/// whitepaper (§5 messages, §6 timers). It is the <see cref="IPacketRoute"/> the dispatcher hands outbound IP
/// packets to (the AllowedIPs trie picks the peer), and it delivers decrypted packets to an
/// <see cref="IPacketInjector"/> after checking their source against the sending peer's AllowedIPs.
/// </summary>
internal sealed class WireGuardDevice : IPacketRoute, IDisposable
{
    /// <summary>The largest datagram we build or accept (64 KiB IP packet + header + tag).</summary>
    public const int MaxMessageSize = 65536 + MessageFormat.DataHeaderSize + MessageFormat.TagSize;

    private readonly IPacketInjector _inbound;
    private readonly Dictionary<string, Peer> _peers = new();
    private readonly Lock _peersLock = new();
    private readonly RateLimiter _rateLimiter;
    private IDatagramSink? _sink;
    private CookieChecker _cookies;
    private Peer[] _peerSnapshot = [];
    private Timer? _timer;
    private long _loadWindowStart;
    private int _loadWindowCount;
    private long _underLoadUntil;
    private readonly long[] _drops = new long[(int)DropReason.QueueFull + 1];
    private readonly Lock _outboxLock = new();
    private SendBatch? _outbox;
    private long _cookieRepliesSent;
    private long _handshakesInitiated;
    private long _handshakesCompleted;
    private long _handshakesFailed;

    /// <summary>Creates a device with <paramref name="privateKey"/>.</summary>
    public WireGuardDevice(byte[] privateKey, IPacketInjector inbound, ILogger logger, TimeProvider? time = null, WireGuardTimings? timings = null, int mtu = 1420)
    {
        Identity = new LocalIdentity(privateKey);
        _inbound = inbound;
        Logger = logger;
        Time = time ?? TimeProvider.System;
        Timings = timings ?? WireGuardTimings.Default;
        Mtu = mtu;
        _cookies = new CookieChecker(Identity, Time, Timings.CookieRefreshTime);
        _rateLimiter = new RateLimiter(Time);
        LoopFailures = new LoopFailures(logger);
    }

    /// <summary>Unexpected exceptions met (and survived) by the receive threads and the timer.</summary>
    public LoopFailures LoopFailures { get; }

    /// <inheritdoc/>
    public string Name => "wireguard";

    /// <summary>Our static key pair.</summary>
    public LocalIdentity Identity { get; private set; }

    /// <summary>The clock of every timer.</summary>
    public TimeProvider Time { get; }

    /// <summary>The protocol's timers and limits.</summary>
    public WireGuardTimings Timings { get; }

    /// <summary>The tunnel MTU: plaintext is padded up to it at most.</summary>
    public int Mtu { get; }

    /// <summary>Logs.</summary>
    public ILogger Logger { get; }

    /// <summary>Our session indices.</summary>
    public IndexTable Indices { get; } = new();

    /// <summary>Cryptokey routing: prefix → peer.</summary>
    public AllowedIps<Peer> AllowedIps { get; } = new();

    /// <summary>The UDP port we listen on (for UAPI's listen_port).</summary>
    public int ListenPort { get; set; }

    /// <summary>The firewall mark set on our sockets (for UAPI's fwmark; 0 = none).</summary>
    public int FirewallMark { get; set; }

    /// <summary>True once a datagram sink is attached.</summary>
    public bool IsUp => _sink is not null;

    /// <summary>Packets dropped for bad input (forgeries, replays, unknown indices, AllowedIPs violations).</summary>
    public long DroppedPackets
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _drops.Length; i++)
            {
                sum += Interlocked.Read(ref _drops[i]);
            }

            return sum;
        }
    }

    /// <summary>Cookie replies sent (whitepaper §5.4.7: handshake messages answered under load).</summary>
    public long CookieRepliesSent => Interlocked.Read(ref _cookieRepliesSent);

    /// <summary>Handshake initiations sent (first attempts and retries).</summary>
    public long HandshakesInitiated => Interlocked.Read(ref _handshakesInitiated);

    /// <summary>Handshakes completed (as initiator or responder).</summary>
    public long HandshakesCompleted => Interlocked.Read(ref _handshakesCompleted);

    /// <summary>Handshakes given up after REKEY_ATTEMPT_TIME without a response.</summary>
    public long HandshakesFailed => Interlocked.Read(ref _handshakesFailed);

    /// <summary>
    /// When true, data messages for <see cref="Send"/> are collected and sent together on <see cref="Flush"/>
    /// (or when the batch is full): one sendmmsg, with UDP GSO where the kernel has it. The plugin turns it on;
    /// without it every message is sent at once (tests that never call Flush).
    /// </summary>
    public bool BatchSends
    {
        get => _outbox is not null;
        set
        {
            lock (_outboxLock)
            {
                if (value && _outbox is null)
                {
                    _outbox = new SendBatch();
                }
            }
        }
    }

    /// <summary>Packets dropped for <paramref name="reason"/>.</summary>
    public long Drops(DropReason reason) => Interlocked.Read(ref _drops[(int)reason]);

    /// <summary>Counts a dropped packet or message.</summary>
    public void CountDrop(DropReason reason) => Interlocked.Increment(ref _drops[(int)reason]);

    /// <summary>Counts a handshake event for metrics.</summary>
    public void CountHandshake(bool initiated, bool completed, bool failed)
    {
        if (initiated)
        {
            Interlocked.Increment(ref _handshakesInitiated);
        }

        if (completed)
        {
            Interlocked.Increment(ref _handshakesCompleted);
        }

        if (failed)
        {
            Interlocked.Increment(ref _handshakesFailed);
        }
    }

    /// <summary>Raised after peers or AllowedIPs change (so the plugin can update the host's routes).</summary>
    public event Action? RoutesChanged;

    /// <summary>The peers, as a snapshot.</summary>
    public IReadOnlyList<Peer> Peers => Volatile.Read(ref _peerSnapshot);

    /// <summary>Attaches the UDP side and starts the timer loop (unless <paramref name="runTimers"/> is false, for tests).</summary>
    public void Start(IDatagramSink sink, bool runTimers = true)
    {
        _sink = sink;
        if (runTimers)
        {
            _timer = new Timer(static state => ((WireGuardDevice)state!).TickGuarded(), this, Timings.TimerTick, Timings.TimerTick);
        }

        foreach (Peer peer in Peers)
        {
            if (peer.PersistentKeepaliveSeconds > 0)
            {
                peer.SendKeepalive();
            }
        }
    }

    /// <summary>
    /// Detaches the UDP side (its sockets were handed to a new plugin version): sends are dropped until
    /// <see cref="Start"/> attaches a sink again; peers, sessions and timers stay.
    /// </summary>
    public void Detach() => _sink = null;

    /// <summary>Finds a peer by public key.</summary>
    public Peer? FindPeer(ReadOnlySpan<byte> publicKey)
    {
        string key = Convert.ToBase64String(publicKey);
        lock (_peersLock)
        {
            return _peers.GetValueOrDefault(key);
        }
    }

    /// <summary>Adds a peer (or returns the existing one with that key).</summary>
    public Peer AddPeer(byte[] publicKey)
    {
        string key = Convert.ToBase64String(publicKey);
        lock (_peersLock)
        {
            if (_peers.TryGetValue(key, out Peer? existing))
            {
                return existing;
            }

            var peer = new Peer(this, publicKey);
            _peers.Add(key, peer);
            _peerSnapshot = [.. _peers.Values];
            return peer;
        }
    }

    /// <summary>Removes a peer, its sessions and its AllowedIPs.</summary>
    public void RemovePeer(Peer peer)
    {
        lock (_peersLock)
        {
            if (!_peers.Remove(peer.PublicKeyBase64))
            {
                return;
            }

            _peerSnapshot = [.. _peers.Values];
        }

        AllowedIps.RemoveByPeer(peer);
        peer.Stop();
        RoutesChanged?.Invoke();
    }

    /// <summary>Replaces our private key (UAPI private_key): every session is dropped, a peer with our own public key is removed.</summary>
    public void SetPrivateKey(byte[] privateKey)
    {
        var identity = new LocalIdentity(privateKey);
        if (identity.PublicKey.AsSpan().SequenceEqual(Identity.PublicKey))
        {
            return;
        }

        Identity = identity;
        _cookies = new CookieChecker(identity, Time, Timings.CookieRefreshTime);
        foreach (Peer peer in Peers)
        {
            if (peer.PublicKey.AsSpan().SequenceEqual(identity.PublicKey))
            {
                RemovePeer(peer);
            }
            else
            {
                peer.ResetIdentity();
            }
        }
    }

    /// <summary>Tells listeners that AllowedIPs changed.</summary>
    public void NotifyRoutesChanged() => RoutesChanged?.Invoke();

    /// <summary>Outbound: an IP packet from the TUN; the AllowedIPs trie selects the peer (whitepaper §2).</summary>
    public void Send(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < 20)
        {
            CountDrop(DropReason.Malformed);
            return;
        }

        int version = packet[0] >> 4;
        Peer? peer = version switch
        {
            4 => AllowedIps.Lookup(packet[16..], v6: false),
            6 when packet.Length >= 40 => AllowedIps.Lookup(packet[24..], v6: true),
            _ => null,
        };
        if (peer is null)
        {
            CountDrop(DropReason.NoRoute);
            return;
        }

        peer.SendPacket(packet);
    }

    /// <inheritdoc/>
    public void Flush()
    {
        if (_outbox is null)
        {
            return;
        }

        lock (_outboxLock)
        {
            FlushOutboxLocked();
        }
    }

    /// <summary>Sends a datagram through the attached sink.</summary>
    public bool SendDatagram(ReadOnlySpan<byte> datagram, SocketAddress destination) =>
        _sink is not null && _sink.Send(datagram, destination);

    /// <summary>
    /// Reserves <paramref name="maxLength"/> bytes in the outbox for a data message when <see cref="BatchSends"/> is
    /// on. On true the outbox lock is held: write the message into <paramref name="space"/> and call
    /// <see cref="EndOutbox"/> (also when nothing was written). False: send at once instead.
    /// </summary>
    public bool TryBeginOutbox(int maxLength, out Span<byte> space)
    {
        space = default;
        if (_outbox is null || _sink is null)
        {
            return false;
        }

        _outboxLock.Enter();
        SendBatch? outbox = _outbox;
        if (outbox is not null)
        {
            space = outbox.Reserve(maxLength);
            if (space.IsEmpty)
            {
                FlushOutboxLocked();
                space = outbox.Reserve(maxLength);
            }
        }

        if (space.IsEmpty)
        {
            _outboxLock.Exit();
            return false;
        }

        return true;
    }

    /// <summary>Commits the message written after <see cref="TryBeginOutbox"/> (<paramref name="length"/> 0 = none) and releases the lock.</summary>
    public void EndOutbox(int length, SocketAddress destination)
    {
        try
        {
            SendBatch outbox = _outbox!;
            if (length > 0)
            {
                outbox.Commit(length, destination);
                if (outbox.IsFull)
                {
                    FlushOutboxLocked();
                }
            }
        }
        finally
        {
            _outboxLock.Exit();
        }
    }

    /// <summary>Handles one received UDP datagram; the span may be rewritten (decrypted in place).</summary>
    public void ReceiveDatagram(Span<byte> message, SocketAddress source)
    {
        if (message.Length < 4)
        {
            CountDrop(DropReason.Malformed);
            return;
        }

        uint type = BinaryPrimitives.ReadUInt32LittleEndian(message);
        switch (type)
        {
            case MessageFormat.TypeData when message.Length >= MessageFormat.DataMinSize:
                ReceiveData(message, source);
                break;
            case MessageFormat.TypeInitiation when message.Length == MessageFormat.InitiationSize:
                ReceiveInitiation(message, source);
                break;
            case MessageFormat.TypeResponse when message.Length == MessageFormat.ResponseSize:
                ReceiveResponse(message, source);
                break;
            case MessageFormat.TypeCookieReply when message.Length == MessageFormat.CookieReplySize:
                ReceiveCookieReply(message);
                break;
            default:
                CountDrop(DropReason.Malformed);
                break;
        }
    }

    /// <summary>Ends a batch of received datagrams: flushes the TUN writer, and sends what the batch queued (staged packets, keepalives).</summary>
    public void EndReceiveBatch()
    {
        _inbound.Flush();
        Flush();
    }

    /// <summary>Runs every peer's due timers.</summary>
    public void Tick()
    {
        long now = Time.GetTimestamp();
        foreach (Peer peer in Peers)
        {
            try
            {
                peer.Tick(now);
            }
            catch (ObjectDisposedException)
            {
                // A socket closed during shutdown; the next tick (if any) will not find it.
            }
        }

        Flush();
    }

    /// <summary>
    /// The timer callback: <see cref="Tick"/>, with any exception counted and logged rather than thrown (an exception
    /// escaping a timer callback would end the process).
    /// </summary>
    private void TickGuarded()
    {
        try
        {
            Tick();
        }
        catch (Exception ex)
        {
            LoopFailures.Report("timer", ex);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _timer?.Dispose();
        foreach (Peer peer in Peers)
        {
            peer.Stop();
        }

        lock (_outboxLock)
        {
            _outbox?.Dispose();
            _outbox = null;
        }
    }

    private void FlushOutboxLocked()
    {
        SendBatch outbox = _outbox!;
        if (outbox.Count == 0)
        {
            return;
        }

        IDatagramSink? sink = _sink;
        if (sink is null)
        {
            outbox.Clear();
            return;
        }

        sink.SendBatch(outbox);
    }

    private void ReceiveData(Span<byte> message, SocketAddress source)
    {
        uint receiver = BinaryPrimitives.ReadUInt32LittleEndian(message[MessageFormat.DataReceiver..]);
        if (!Indices.TryGet(receiver, out IndexEntry entry) || entry.Keypair is not { } keypair)
        {
            CountDrop(DropReason.UnknownIndex);
            return;
        }

        long now = Time.GetTimestamp();
        if (Time.GetElapsedTime(keypair.Created, now) >= Timings.RejectAfterTime)
        {
            CountDrop(DropReason.KeyExpired);
            return;
        }

        int length = keypair.Open(message, Timings.RejectAfterMessages);
        if (length < 0)
        {
            CountDrop(DropReason.Decryption);
            return;
        }

        Peer peer = entry.Peer;
        peer.UpdateEndpoint(source);
        peer.AddRx(message.Length);
        if (peer.ReceivedWith(keypair))
        {
            peer.OnHandshakeComplete(initiator: false);
            peer.SendStaged();
        }

        peer.KeepKeyFreshReceiving(keypair, now);
        peer.OnAnyAuthenticatedPacketTraversal(now);
        peer.OnAnyAuthenticatedPacketReceived();
        if (length == 0)
        {
            return;
        }

        peer.OnDataReceived(now);
        Span<byte> packet = message.Slice(MessageFormat.DataHeaderSize, length);
        int ipLength;
        Peer? owner;
        switch (packet[0] >> 4)
        {
            case 4 when packet.Length >= 20:
                ipLength = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
                owner = ipLength >= 20 && ipLength <= packet.Length ? AllowedIps.Lookup(packet[12..], v6: false) : null;
                break;
            case 6 when packet.Length >= 40:
                ipLength = 40 + BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
                owner = ipLength <= packet.Length ? AllowedIps.Lookup(packet[8..], v6: true) : null;
                break;
            default:
                ipLength = 0;
                owner = null;
                break;
        }

        // Cryptokey routing, inbound half (whitepaper §2): the inner source must be one of this peer's AllowedIPs.
        if (!ReferenceEquals(owner, peer))
        {
            CountDrop(DropReason.AllowedIps);
            return;
        }

        _inbound.Deliver(packet[..ipLength], this);
    }

    private bool PassesLoadCheck(ReadOnlySpan<byte> message, SocketAddress source, int mac1Offset, uint senderIndex)
    {
        if (!_cookies.CheckMac1(message, mac1Offset))
        {
            CountDrop(DropReason.InvalidMac);
            return false;
        }

        if (!IsUnderLoad())
        {
            return true;
        }

        Span<byte> sourceBytes = stackalloc byte[18];
        int sourceLength = SourceBytes(source, sourceBytes);
        if (!_cookies.CheckMac2(message, mac1Offset + 16, sourceBytes[..sourceLength]))
        {
            // Whitepaper §5.4.7: under load, answer with a cookie instead of doing the DH work.
            Span<byte> reply = stackalloc byte[MessageFormat.CookieReplySize];
            _cookies.CreateReply(message, mac1Offset, senderIndex, sourceBytes[..sourceLength], reply);
            SendDatagram(reply, source);
            Interlocked.Increment(ref _cookieRepliesSent);
            CountDrop(DropReason.CookieRequired);
            WireGuardLog.CookieReplySent(Logger, SocketAddressCodec.Read(source).ToString());
            return false;
        }

        if (!_rateLimiter.Allow(SocketAddressCodec.Read(source).Address))
        {
            CountDrop(DropReason.RateLimited);
            return false;
        }

        return true;
    }

    private bool IsUnderLoad()
    {
        long now = Time.GetTimestamp();
        lock (_rateLimiter)
        {
            if (now - _loadWindowStart >= Time.TimestampFrequency)
            {
                _loadWindowStart = now;
                _loadWindowCount = 0;
            }

            if (++_loadWindowCount > Timings.UnderLoadHandshakesPerSecond)
            {
                _underLoadUntil = now + (long)(Timings.UnderLoadAfterTime.TotalSeconds * Time.TimestampFrequency);
            }

            return now < _underLoadUntil;
        }
    }

    private void ReceiveInitiation(Span<byte> message, SocketAddress source)
    {
        uint sender = BinaryPrimitives.ReadUInt32LittleEndian(message[MessageFormat.InitiationSender..]);
        if (!PassesLoadCheck(message, source, MessageFormat.InitiationMac1, sender))
        {
            return;
        }

        if (!NoiseProtocol.TryConsumeInitiation(Identity, message, out InitiationResult initiation))
        {
            WireGuardLog.InitiationDropped(Logger, SocketAddressCodec.Read(source).ToString(), "does not decrypt with our key");
            CountDrop(DropReason.HandshakeInvalid);
            return;
        }

        Peer? peer = FindPeer(initiation.RemoteStatic);
        if (peer is null)
        {
            WireGuardLog.InitiationDropped(Logger, SocketAddressCodec.Read(source).ToString(), "unknown public key " + Convert.ToBase64String(initiation.RemoteStatic));
            CountDrop(DropReason.HandshakeInvalid);
            return;
        }

        long now = Time.GetTimestamp();
        Span<byte> response = stackalloc byte[MessageFormat.ResponseSize];
        Span<byte> sendKey = stackalloc byte[32];
        Span<byte> receiveKey = stackalloc byte[32];
        Keypair keypair;
        lock (peer.HandshakeLock)
        {
            Handshake hs = peer.Handshake;
            if (!Tai64N.After(initiation.Timestamp, hs.LatestTimestamp))
            {
                WireGuardLog.InitiationDropped(Logger, SocketAddressCodec.Read(source).ToString(), "replayed timestamp");
                CountDrop(DropReason.HandshakeReplay);
                return;
            }

            if (hs.LastInitiationConsumption != 0 && Time.GetElapsedTime(hs.LastInitiationConsumption, now) < Timings.HandshakeInitiationRate)
            {
                WireGuardLog.InitiationDropped(Logger, SocketAddressCodec.Read(source).ToString(), "initiation flood");
                CountDrop(DropReason.HandshakeReplay);
                return;
            }

            if (hs.State != HandshakeState.Zeroed && hs.LocalIndex != 0)
            {
                Indices.Remove(hs.LocalIndex);
            }

            NoiseProtocol.AcceptInitiation(hs, initiation);
            hs.LastInitiationConsumption = now;
            uint index = Indices.NewIndex(peer);
            if (!NoiseProtocol.CreateResponse(hs, index, response) ||
                !NoiseProtocol.TryDeriveKeys(hs, sendKey, receiveKey, out bool initiator))
            {
                Indices.Remove(index);
                hs.Clear();
                CountDrop(DropReason.HandshakeInvalid);
                return;
            }

            peer.Cookies.AddMacs(response);
            keypair = new Keypair(sendKey, receiveKey, initiator, now, index, initiation.RemoteIndex);
            Indices.SetKeypair(index, peer, keypair);
        }

        sendKey.Clear();
        receiveKey.Clear();
        peer.UpdateEndpoint(source);
        peer.AddRx(message.Length);
        peer.OnAnyAuthenticatedPacketTraversal(now);
        peer.OnAnyAuthenticatedPacketReceived();
        peer.BeginSession(keypair);
        SocketAddress? endpoint = peer.Endpoint;
        if (endpoint is not null && SendDatagram(response, endpoint))
        {
            peer.OnAnyAuthenticatedPacketTraversal(now);
        }
    }

    private void ReceiveResponse(Span<byte> message, SocketAddress source)
    {
        uint sender = BinaryPrimitives.ReadUInt32LittleEndian(message[MessageFormat.ResponseSender..]);
        if (!PassesLoadCheck(message, source, MessageFormat.ResponseMac1, sender))
        {
            return;
        }

        uint receiver = BinaryPrimitives.ReadUInt32LittleEndian(message[MessageFormat.ResponseReceiver..]);
        if (!Indices.TryGet(receiver, out IndexEntry entry) || entry.Keypair is not null)
        {
            CountDrop(DropReason.HandshakeInvalid);
            return;
        }

        Peer peer = entry.Peer;
        long now = Time.GetTimestamp();
        Span<byte> sendKey = stackalloc byte[32];
        Span<byte> receiveKey = stackalloc byte[32];
        Keypair keypair;
        lock (peer.HandshakeLock)
        {
            Handshake hs = peer.Handshake;
            if (hs.LocalIndex != receiver || !NoiseProtocol.TryConsumeResponse(Identity, hs, message))
            {
                CountDrop(DropReason.HandshakeInvalid);
                return;
            }

            uint remote = hs.RemoteIndex;
            NoiseProtocol.TryDeriveKeys(hs, sendKey, receiveKey, out bool initiator);
            keypair = new Keypair(sendKey, receiveKey, initiator, now, receiver, remote);
            Indices.SetKeypair(receiver, peer, keypair);
        }

        sendKey.Clear();
        receiveKey.Clear();
        peer.UpdateEndpoint(source);
        peer.AddRx(message.Length);
        peer.OnAnyAuthenticatedPacketTraversal(now);
        peer.OnAnyAuthenticatedPacketReceived();
        peer.BeginSession(keypair);
        peer.OnHandshakeComplete(initiator: true);

        // Whitepaper §5.4.3: the responder cannot send until it has seen our first data message; send the
        // queued packets, or a keepalive to confirm the session.
        peer.SendKeepalive();
    }

    private void ReceiveCookieReply(ReadOnlySpan<byte> message)
    {
        uint receiver = BinaryPrimitives.ReadUInt32LittleEndian(message[MessageFormat.CookieReceiver..]);
        if (!Indices.TryGet(receiver, out IndexEntry entry) || !entry.Peer.Cookies.ConsumeReply(message))
        {
            CountDrop(DropReason.HandshakeInvalid);
            return;
        }

        WireGuardLog.CookieReceived(Logger, entry.Peer.PublicKeyBase64);
    }

    private static int SourceBytes(SocketAddress source, Span<byte> destination)
    {
        ReadOnlySpan<byte> b = source.Buffer.Span;
        if (source.Family == AddressFamily.InterNetworkV6)
        {
            b.Slice(8, 16).CopyTo(destination);
            b.Slice(2, 2).CopyTo(destination[16..]);
            return 18;
        }

        b.Slice(4, 4).CopyTo(destination);
        b.Slice(2, 2).CopyTo(destination[4..]);
        return 6;
    }
}
