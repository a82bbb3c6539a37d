using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Gateway.Plugins.WireGuard.Conn;
using Gateway.Plugins.WireGuard.Noise;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.WireGuard.Device;

/// <summary>
/// One WireGuard peer: its handshake, the previous/current/next keypairs (whitepaper §6.2 key rotation), its
/// endpoint (which follows authenticated packets: roaming, §2.1), the packets waiting for a handshake, and the
/// timer state of §6. Timer deadlines are plain timestamps checked by <see cref="Tick"/>, so a fake
/// <see cref="TimeProvider"/> drives them in tests.
/// </summary>
internal sealed class Peer
{
    [ThreadStatic]
    private static byte[]? t_scratch;

    private readonly WireGuardDevice _device;
    private readonly Queue<(byte[] Buffer, int Length)> _staged = new();
    private readonly Lock _stagedLock = new();
    private readonly Lock _keypairLock = new();
    private volatile Keypair? _current;
    private volatile Keypair? _next;
    private Keypair? _previous;
    private volatile SocketAddress? _endpoint;
    private int _stagedCount;

    // Timer deadlines in TimeProvider timestamp ticks; 0 = not armed (wireguard-go's timers.go).
    private long _retransmitAt;
    private long _sendKeepaliveAt;
    private long _newHandshakeAt;
    private long _zeroKeyAt;
    private long _persistentKeepaliveAt;
    private bool _needAnotherKeepalive;
    private int _handshakeAttempts;
    private long _lastSentHandshake;
    private long _rxBytes;
    private long _txBytes;
    private long _rxPackets;
    private long _txPackets;
    private long _lastHandshakeUnixNanos;

    /// <summary>Creates a peer of <paramref name="device"/>.</summary>
    public Peer(WireGuardDevice device, byte[] publicKey)
    {
        _device = device;
        PublicKey = publicKey;
        PublicKeyBase64 = Convert.ToBase64String(publicKey);
        Handshake = new Handshake(device.Identity, publicKey, null);
        Cookies = new CookieGenerator(publicKey, device.Time, device.Timings.CookieRefreshTime);
    }

    /// <summary>The peer's static public key.</summary>
    public byte[] PublicKey { get; }

    /// <summary>The public key in base64, for logs.</summary>
    public string PublicKeyBase64 { get; }

    /// <summary>The handshake state; replaced when our private key changes. Guarded by <see cref="HandshakeLock"/>.</summary>
    public Handshake Handshake { get; private set; }

    /// <summary>Guards <see cref="Handshake"/>.</summary>
    public Lock HandshakeLock { get; } = new();

    /// <summary>mac1/mac2 for messages to this peer.</summary>
    public CookieGenerator Cookies { get; }

    /// <summary>The preshared key, or null.</summary>
    public byte[]? PresharedKey { get; private set; }

    /// <summary>Persistent keepalive interval in seconds; 0 = off.</summary>
    public int PersistentKeepaliveSeconds { get; private set; }

    /// <summary>The current endpoint (changes when authenticated packets arrive from elsewhere), or null.</summary>
    public SocketAddress? Endpoint => _endpoint;

    /// <summary>Bytes received from this peer (whole UDP payloads of authenticated messages).</summary>
    public long RxBytes => Interlocked.Read(ref _rxBytes);

    /// <summary>Bytes sent to this peer.</summary>
    public long TxBytes => Interlocked.Read(ref _txBytes);

    /// <summary>Authenticated messages received from this peer.</summary>
    public long RxPackets => Interlocked.Read(ref _rxPackets);

    /// <summary>Messages sent to this peer.</summary>
    public long TxPackets => Interlocked.Read(ref _txPackets);

    /// <summary>The first 8 characters of the base64 public key: the <c>peer</c> tag of metrics (as `wg` abbreviates keys).</summary>
    public string ShortKey => PublicKeyBase64[..8];

    /// <summary>Wall-clock time of the last completed handshake in Unix nanoseconds; 0 = never.</summary>
    public long LastHandshakeUnixNanos => Interlocked.Read(ref _lastHandshakeUnixNanos);

    /// <summary>The keypair used for sending, or null.</summary>
    public Keypair? Current => _current;

    /// <summary>The responder's keypair awaiting confirmation by the initiator's first data message, or null.</summary>
    public Keypair? Next => _next;

    /// <summary>The number of packets waiting for a session.</summary>
    public int StagedCount => Volatile.Read(ref _stagedCount);

    private WireGuardTimings Timings => _device.Timings;

    private long Now => _device.Time.GetTimestamp();

    /// <summary>Sets the preshared key (null = none).</summary>
    public void SetPresharedKey(byte[]? key)
    {
        lock (HandshakeLock)
        {
            PresharedKey = key;
            Handshake.PresharedKey = key ?? new byte[32];
        }
    }

    /// <summary>Sets the persistent keepalive interval; a new non-zero interval sends a keepalive at once (as wg does).</summary>
    public void SetPersistentKeepalive(int seconds)
    {
        bool changed = seconds != PersistentKeepaliveSeconds;
        PersistentKeepaliveSeconds = seconds;
        if (changed && seconds > 0 && _device.IsUp)
        {
            SendKeepalive();
        }
    }

    /// <summary>Sets the endpoint from configuration or UAPI.</summary>
    public void SetEndpoint(NetEndpoint endpoint) => _endpoint = endpoint.ToIPEndPoint().Serialize();

    /// <summary>The endpoint as a value, or null.</summary>
    public NetEndpoint? EndpointValue
    {
        get
        {
            SocketAddress? address = _endpoint;
            return address is null ? null : SocketAddressCodec.Read(address);
        }
    }

    /// <summary>Recomputes the handshake after our private key changed; existing sessions are dropped.</summary>
    public void ResetIdentity()
    {
        lock (HandshakeLock)
        {
            Handshake.Clear();
            var fresh = new Handshake(_device.Identity, PublicKey, PresharedKey);
            Handshake = fresh;
        }

        ZeroKeys();
    }

    /// <summary>Follows an authenticated packet's source address (roaming).</summary>
    public void UpdateEndpoint(SocketAddress source)
    {
        SocketAddress? current = _endpoint;
        if (current is not null && SocketAddressCodec.Same(current, source))
        {
            return;
        }

        var copy = new SocketAddress(source.Family, source.Size);
        source.Buffer.Span[..source.Size].CopyTo(copy.Buffer.Span);
        _endpoint = copy;
        if (current is not null)
        {
            WireGuardLog.EndpointChanged(_device.Logger, PublicKeyBase64, SocketAddressCodec.Read(copy).ToString());
        }
    }

    /// <summary>Encrypts and sends one IP packet, or queues it and starts a handshake when there is no usable session.</summary>
    public void SendPacket(ReadOnlySpan<byte> packet)
    {
        Keypair? keypair = _current;
        long now = Now;
        if (keypair is not null && Volatile.Read(ref _stagedCount) == 0 && IsSendable(keypair, now))
        {
            if (SendData(keypair, packet, now))
            {
                return;
            }
        }

        Stage(packet);
        SendStaged();
    }

    /// <summary>Sends a keepalive (an empty data message), or starts a handshake when there is no session.</summary>
    public void SendKeepalive()
    {
        Keypair? keypair = _current;
        long now = Now;
        if (Volatile.Read(ref _stagedCount) == 0 && keypair is not null && IsSendable(keypair, now) && SendData(keypair, default, now))
        {
            return;
        }

        SendStaged();
    }

    /// <summary>Sends queued packets when a session is usable, else starts a handshake.</summary>
    public void SendStaged()
    {
        while (true)
        {
            Keypair? keypair = _current;
            long now = Now;
            if (keypair is null || !IsSendable(keypair, now))
            {
                InitiateHandshake(isRetry: false);
                return;
            }

            (byte[] Buffer, int Length) item;
            lock (_stagedLock)
            {
                if (!_staged.TryDequeue(out item))
                {
                    return;
                }

                _stagedCount = _staged.Count;
            }

            bool sent = SendData(keypair, item.Buffer.AsSpan(0, item.Length), now);
            if (!sent)
            {
                lock (_stagedLock)
                {
                    _staged.Enqueue(item);
                    _stagedCount = _staged.Count;
                }

                InitiateHandshake(isRetry: false);
                return;
            }

            ArrayPool<byte>.Shared.Return(item.Buffer);
        }
    }

    /// <summary>Sends a handshake initiation unless one was sent less than REKEY_TIMEOUT ago (whitepaper §6.4).</summary>
    public void InitiateHandshake(bool isRetry)
    {
        if (!isRetry)
        {
            _handshakeAttempts = 0;
        }

        long now = Now;
        Span<byte> message = stackalloc byte[MessageFormat.InitiationSize];
        SocketAddress? endpoint;
        lock (HandshakeLock)
        {
            if (_lastSentHandshake != 0 && _device.Time.GetElapsedTime(_lastSentHandshake, now) < Timings.RekeyTimeout)
            {
                return;
            }

            _lastSentHandshake = now;
            if (Handshake.State != HandshakeState.Zeroed && Handshake.LocalIndex != 0)
            {
                _device.Indices.Remove(Handshake.LocalIndex);
            }

            uint index = _device.Indices.NewIndex(this);
            if (!NoiseProtocol.CreateInitiation(_device.Identity, Handshake, index, _device.Time.GetUtcNow(), message))
            {
                _device.Indices.Remove(index);
                Handshake.Clear();
                return;
            }

            Cookies.AddMacs(message);
            endpoint = _endpoint;
        }

        OnAnyAuthenticatedPacketTraversal(now);
        OnAnyAuthenticatedPacketSent();
        _device.CountHandshake(initiated: true, completed: false, failed: false);
        if (endpoint is null)
        {
            WireGuardLog.NoEndpoint(_device.Logger, PublicKeyBase64);
        }
        else
        {
            WireGuardLog.SendingInitiation(_device.Logger, PublicKeyBase64, SocketAddressCodec.Read(endpoint).ToString(), _handshakeAttempts + 1);
            SendRaw(message, endpoint);
        }

        _retransmitAt = now + Jittered(Timings.RekeyTimeout);
    }

    /// <summary>Installs a new session (wireguard-go's BeginSymmetricSession rotation rules).</summary>
    public void BeginSession(Keypair keypair)
    {
        List<Keypair> retired = new(2);
        lock (_keypairLock)
        {
            if (keypair.IsInitiator)
            {
                if (_next is not null)
                {
                    if (_previous is not null)
                    {
                        retired.Add(_previous);
                    }

                    _previous = _next;
                    _next = null;
                    if (_current is not null)
                    {
                        retired.Add(_current);
                    }
                }
                else
                {
                    if (_previous is not null)
                    {
                        retired.Add(_previous);
                    }

                    _previous = _current;
                }

                _current = keypair;
            }
            else
            {
                if (_next is not null)
                {
                    retired.Add(_next);
                }

                _next = keypair;
                if (_previous is not null)
                {
                    retired.Add(_previous);
                }

                _previous = null;
            }
        }

        foreach (Keypair old in retired)
        {
            Retire(old);
        }

        _zeroKeyAt = Now + Ticks(Timings.RejectAfterTime * 3);
    }

    /// <summary>
    /// Called for every authenticated data message: the first message under the responder's next keypair
    /// confirms it and rotates it to current. Returns true when that happened (the handshake is then complete).
    /// </summary>
    public bool ReceivedWith(Keypair keypair)
    {
        if (!ReferenceEquals(_next, keypair))
        {
            return false;
        }

        Keypair? retired = null;
        lock (_keypairLock)
        {
            if (!ReferenceEquals(_next, keypair))
            {
                return false;
            }

            retired = _previous;
            _previous = _current;
            _current = keypair;
            _next = null;
        }

        if (retired is not null)
        {
            Retire(retired);
        }

        return true;
    }

    /// <summary>Records a completed handshake (timers and `wg show`'s latest handshake).</summary>
    public void OnHandshakeComplete(bool initiator)
    {
        _retransmitAt = 0;
        _handshakeAttempts = 0;
        _device.CountHandshake(initiated: false, completed: true, failed: false);
        Interlocked.Exchange(ref _lastHandshakeUnixNanos, (_device.Time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100);
        SocketAddress? endpoint = _endpoint;
        WireGuardLog.HandshakeCompleted(_device.Logger, PublicKeyBase64, endpoint is null ? "?" : SocketAddressCodec.Read(endpoint).ToString(), initiator ? "initiator" : "responder");
    }

    /// <summary>After receiving an authenticated data message: the initiator rekeys a session nearing REJECT_AFTER_TIME (whitepaper §6.2).</summary>
    public void KeepKeyFreshReceiving(Keypair keypair, long now)
    {
        if (!keypair.IsInitiator || !ReferenceEquals(keypair, _current))
        {
            return;
        }

        TimeSpan limit = Timings.RejectAfterTime - Timings.KeepaliveTimeout - Timings.RekeyTimeout;
        if (_device.Time.GetElapsedTime(keypair.Created, now) >= limit && Handshake.State == HandshakeState.Zeroed)
        {
            InitiateHandshake(isRetry: false);
        }
    }

    /// <summary>Adds a received message of <paramref name="bytes"/> bytes.</summary>
    public void AddRx(int bytes)
    {
        Interlocked.Add(ref _rxBytes, bytes);
        Interlocked.Increment(ref _rxPackets);
    }

    /// <summary>Timer event: data received (schedule a keepalive if we have nothing to send back).</summary>
    public void OnDataReceived(long now)
    {
        if (_sendKeepaliveAt == 0)
        {
            _sendKeepaliveAt = now + Ticks(Timings.KeepaliveTimeout);
        }
        else
        {
            _needAnotherKeepalive = true;
        }
    }

    /// <summary>Timer event: any authenticated packet received (the peer is alive: no new handshake needed).</summary>
    public void OnAnyAuthenticatedPacketReceived() => _newHandshakeAt = 0;

    /// <summary>Timer event: any authenticated packet sent or received (re-arms persistent keepalive).</summary>
    public void OnAnyAuthenticatedPacketTraversal(long now)
    {
        int interval = PersistentKeepaliveSeconds;
        if (interval > 0)
        {
            _persistentKeepaliveAt = now + Ticks(TimeSpan.FromSeconds(interval));
        }
    }

    /// <summary>Runs due timers (whitepaper §6; wireguard-go timers.go).</summary>
    public void Tick(long now)
    {
        if (Due(ref _retransmitAt, now))
        {
            if (_handshakeAttempts > Timings.MaxHandshakeAttempts)
            {
                WireGuardLog.HandshakeGaveUp(_device.Logger, PublicKeyBase64, _handshakeAttempts + 1, Timings.RekeyAttemptTime.TotalSeconds);
                _device.CountHandshake(initiated: false, completed: false, failed: true);
                _sendKeepaliveAt = 0;
                ClearStaged();
                if (_zeroKeyAt == 0)
                {
                    _zeroKeyAt = now + Ticks(Timings.RejectAfterTime * 3);
                }
            }
            else
            {
                _handshakeAttempts++;
                InitiateHandshake(isRetry: true);
            }
        }

        if (Due(ref _sendKeepaliveAt, now))
        {
            SendKeepalive();
            if (_needAnotherKeepalive)
            {
                _needAnotherKeepalive = false;
                _sendKeepaliveAt = now + Ticks(Timings.KeepaliveTimeout);
            }
        }

        if (Due(ref _newHandshakeAt, now))
        {
            // We sent data and heard nothing for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT: the session may be dead.
            InitiateHandshake(isRetry: false);
        }

        if (Due(ref _zeroKeyAt, now))
        {
            WireGuardLog.KeysZeroed(_device.Logger, PublicKeyBase64, (Timings.RejectAfterTime * 3).TotalSeconds);
            ZeroKeys();
        }

        if (Due(ref _persistentKeepaliveAt, now) && PersistentKeepaliveSeconds > 0)
        {
            SendKeepalive();
        }
    }

    /// <summary>Erases every keypair and the handshake; queued packets are kept.</summary>
    public void ZeroKeys()
    {
        Keypair? a, b, c;
        lock (_keypairLock)
        {
            a = _previous;
            b = _current;
            c = _next;
            _previous = null;
            _current = null;
            _next = null;
        }

        if (a is not null)
        {
            Retire(a);
        }

        if (b is not null)
        {
            Retire(b);
        }

        if (c is not null)
        {
            Retire(c);
        }

        lock (HandshakeLock)
        {
            if (Handshake.State != HandshakeState.Zeroed)
            {
                _device.Indices.Remove(Handshake.LocalIndex);
            }

            Handshake.Clear();
        }
    }

    /// <summary>Removes the peer: erases its keys and drops queued packets.</summary>
    public void Stop()
    {
        ZeroKeys();
        ClearStaged();
        _retransmitAt = _sendKeepaliveAt = _newHandshakeAt = _zeroKeyAt = _persistentKeepaliveAt = 0;
    }

    private bool SendData(Keypair keypair, ReadOnlySpan<byte> packet, long now)
    {
        SocketAddress? endpoint = _endpoint;
        if (endpoint is null)
        {
            return false;
        }

        int padded = MessageFormat.PaddedLength(packet.Length, _device.Mtu);
        int messageLength = MessageFormat.DataHeaderSize + padded + MessageFormat.TagSize;
        if (messageLength > WireGuardDevice.MaxMessageSize)
        {
            return true;
        }

        ulong counter;
        if (_device.TryBeginOutbox(messageLength, out Span<byte> space))
        {
            int sealedLength = 0;
            try
            {
                sealedLength = SealInto(space, keypair, packet, padded, out counter);
            }
            finally
            {
                _device.EndOutbox(sealedLength, endpoint);
            }

            if (sealedLength == 0)
            {
                return false;
            }

            Interlocked.Add(ref _txBytes, sealedLength);
            Interlocked.Increment(ref _txPackets);
        }
        else
        {
            byte[] buffer = t_scratch ??= new byte[WireGuardDevice.MaxMessageSize];
            int length = SealInto(buffer, keypair, packet, padded, out counter);
            if (length == 0)
            {
                return false;
            }

            SendRaw(buffer.AsSpan(0, length), endpoint);
        }

        OnAnyAuthenticatedPacketTraversal(now);
        OnAnyAuthenticatedPacketSent();
        if (!packet.IsEmpty && _newHandshakeAt == 0)
        {
            _newHandshakeAt = now + Ticks(Timings.KeepaliveTimeout + Timings.RekeyTimeout) + Ticks(Jitter());
        }

        // Whitepaper §6.2: the initiator rekeys after REKEY_AFTER_MESSAGES or REKEY_AFTER_TIME.
        if (keypair.IsInitiator &&
            (counter >= Timings.RekeyAfterMessages || _device.Time.GetElapsedTime(keypair.Created, now) >= Timings.RekeyAfterTime))
        {
            InitiateHandshake(isRetry: false);
        }

        return true;
    }

    private int SealInto(Span<byte> message, Keypair keypair, ReadOnlySpan<byte> packet, int padded, out ulong counter)
    {
        // A packet that needs no padding (full-MTU segments) is encrypted straight from where it lies.
        if (padded == packet.Length)
        {
            return keypair.Seal(message, packet, Timings.RejectAfterMessages, out counter);
        }

        packet.CopyTo(message[MessageFormat.DataHeaderSize..]);
        message.Slice(MessageFormat.DataHeaderSize + packet.Length, padded - packet.Length).Clear();
        return keypair.Seal(message, padded, Timings.RejectAfterMessages, out counter);
    }

    private void SendRaw(ReadOnlySpan<byte> message, SocketAddress endpoint)
    {
        if (_device.SendDatagram(message, endpoint))
        {
            Interlocked.Add(ref _txBytes, message.Length);
            Interlocked.Increment(ref _txPackets);
        }
    }

    private bool IsSendable(Keypair keypair, long now) =>
        keypair.SendCounter < Timings.RejectAfterMessages &&
        _device.Time.GetElapsedTime(keypair.Created, now) < Timings.RejectAfterTime;

    private void OnAnyAuthenticatedPacketSent() => _sendKeepaliveAt = 0;

    private void Stage(ReadOnlySpan<byte> packet)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(packet.Length, 1));
        packet.CopyTo(buffer);
        lock (_stagedLock)
        {
            // wireguard-go drops the oldest packet when the staging queue is full.
            if (_staged.Count >= Timings.MaxStagedPackets && _staged.TryDequeue(out (byte[] Buffer, int Length) old))
            {
                ArrayPool<byte>.Shared.Return(old.Buffer);
                _device.CountDrop(DropReason.QueueFull);
            }

            _staged.Enqueue((buffer, packet.Length));
            _stagedCount = _staged.Count;
        }
    }

    private void ClearStaged()
    {
        lock (_stagedLock)
        {
            while (_staged.TryDequeue(out (byte[] Buffer, int Length) item))
            {
                ArrayPool<byte>.Shared.Return(item.Buffer);
            }

            _stagedCount = 0;
        }
    }

    private void Retire(Keypair keypair)
    {
        _device.Indices.Remove(keypair.LocalIndex);
        keypair.Dispose();
    }

    private long Ticks(TimeSpan span) => span.Ticks * _device.Time.TimestampFrequency / TimeSpan.TicksPerSecond;

    private TimeSpan Jitter() => TimeSpan.FromTicks(Random.Shared.NextInt64(Math.Max(1, Timings.RekeyTimeoutJitterMax.Ticks)));

    private long Jittered(TimeSpan span) => Ticks(span + Jitter());

    private static bool Due(ref long deadline, long now)
    {
        long at = deadline;
        if (at == 0 || now < at)
        {
            return false;
        }

        deadline = 0;
        return true;
    }
}
