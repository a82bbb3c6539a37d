using Gateway.Plugins.WireGuard.Device;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.WireGuard.Configuration;

/// <summary>
/// Applies a changed <c>wireguard:</c> section to a running device the way `wg syncconf` does (issue 14): only what
/// changed in the file since the last load is touched. A peer whose entry did not change keeps its sessions, its
/// handshake, its endpoint (roamed or not) and its packets in flight; a removed peer's sessions are erased and its
/// packets dropped at once; a new private key re-keys every peer; a new listen port re-binds the sockets.
/// </summary>
/// <remarks>
/// File against `wg set` (both change the same device): the file is the source of truth for what it names, and
/// what it names is compared with the file's previous version, not with the device. So a setting changed at run
/// time through UAPI stays until the file changes that same setting of that peer, or removes the peer; a peer
/// added with `wg set` that the file never names is left alone; a file peer removed with `wg set` stays removed
/// until its entry in the file changes. Each reload logs what it did, and when it overrides or keeps run-time
/// changes of a peer, it says so.
/// </remarks>
internal sealed class SyncConf
{
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly HashSet<string> _changedAtRunTime = new(StringComparer.Ordinal);

    /// <summary>Logs to <paramref name="logger"/>.</summary>
    public SyncConf(ILogger logger) => _logger = logger;

    /// <summary>
    /// Notes the peers a successful UAPI <c>set</c> request changed (its <c>public_key=</c> lines), so the next
    /// reload can say whether it keeps or overrides those changes.
    /// </summary>
    public void NoteRuntimeSet(IReadOnlyList<string> lines)
    {
        lock (_lock)
        {
            foreach (string line in lines)
            {
                if (line.StartsWith("public_key=", StringComparison.Ordinal) &&
                    UAPI.UapiProtocol.ParseHexKey(line["public_key=".Length..]) is { } key)
                {
                    _changedAtRunTime.Add(Convert.ToBase64String(key));
                }
            }
        }
    }

    /// <summary>Applies the difference between <paramref name="previous"/> and <paramref name="next"/> to <paramref name="device"/>.</summary>
    /// <param name="rebind">Moves the UDP sockets to a new port; false when it cannot (the old port is kept).</param>
    public SyncResult Apply(WireGuardDevice device, WireGuardOptions previous, WireGuardOptions next, Func<int, bool> rebind)
    {
        var result = new SyncResult();
        if (next.PrivateKey is { } privateKey && !SameBytes(previous.PrivateKey, privateKey))
        {
            device.SetPrivateKey(privateKey);
            result.Rekeyed = true;
            WireGuardLog.ReloadPrivateKey(_logger, Convert.ToBase64String(device.Identity.PublicKey));
        }

        if (next.ListenPort != previous.ListenPort)
        {
            if (rebind(next.ListenPort))
            {
                result.Rebound = true;
                WireGuardLog.ReloadListenPort(_logger, device.ListenPort);
            }
            else
            {
                WireGuardLog.ReloadListenPortFailed(_logger, next.ListenPort, device.ListenPort);
            }
        }

        var before = new Dictionary<string, WireGuardPeerOptions>(StringComparer.Ordinal);
        foreach (WireGuardPeerOptions peer in previous.Peers)
        {
            before[Convert.ToBase64String(peer.PublicKey)] = peer;
        }

        var named = new HashSet<string>(StringComparer.Ordinal);
        foreach (WireGuardPeerOptions wanted in next.Peers)
        {
            string key = Convert.ToBase64String(wanted.PublicKey);
            named.Add(key);
            Peer? existing = device.FindPeer(wanted.PublicKey);
            bool runtime = TakeRuntimeChange(key);
            if (!before.TryGetValue(key, out WireGuardPeerOptions? old))
            {
                // New in the file. A peer of that key added earlier with `wg set` is now named by the file: it gets
                // every setting of its entry (its sessions stay).
                Peer peer = existing ?? device.AddPeer(wanted.PublicKey);
                ApplyAll(device, peer, wanted);
                result.Added.Add(key);
                WireGuardLog.ReloadPeerAdded(_logger, peer.PublicKeyBase64, existing is null ? "added" : "now named by the file (it was added with wg set)");
                continue;
            }

            PeerChange change = Compare(old, wanted);
            if (change == PeerChange.None)
            {
                if (runtime)
                {
                    WireGuardLog.ReloadRuntimeKept(_logger, key);
                }

                continue;
            }

            if (existing is null)
            {
                // Removed with `wg set`, and its entry in the file changed since: the file wins, the peer comes back.
                Peer peer = device.AddPeer(wanted.PublicKey);
                ApplyAll(device, peer, wanted);
                result.Added.Add(key);
                WireGuardLog.ReloadPeerAdded(_logger, key, "added again (it had been removed with wg set; its entry in the file changed)");
                continue;
            }

            Apply(device, existing, wanted, change);
            result.Updated.Add(key);
            WireGuardLog.ReloadPeerUpdated(_logger, key, Describe(change), runtime ? "; the file overrides wg set for these settings" : "");
        }

        foreach ((string key, WireGuardPeerOptions old) in before)
        {
            if (named.Contains(key))
            {
                continue;
            }

            TakeRuntimeChange(key);
            if (device.FindPeer(old.PublicKey) is { } gone)
            {
                // Sessions erased (keys zeroed, indices freed) and AllowedIPs gone in one step: its packets stop now.
                device.RemovePeer(gone);
                result.Removed.Add(key);
                WireGuardLog.ReloadPeerRemoved(_logger, key);
            }
        }

        device.NotifyRoutesChanged();
        return result;
    }

    private static void ApplyAll(WireGuardDevice device, Peer peer, WireGuardPeerOptions options) =>
        Apply(device, peer, options, PeerChange.All);

    private static void Apply(WireGuardDevice device, Peer peer, WireGuardPeerOptions options, PeerChange change)
    {
        if ((change & PeerChange.PresharedKey) != 0)
        {
            // Used from the next handshake on; the current session was keyed with the old one and stays valid.
            peer.SetPresharedKey(options.PresharedKey);
        }

        if ((change & PeerChange.Endpoint) != 0)
        {
            SetEndpoint(device, peer, options);
        }

        if ((change & PeerChange.AllowedIps) != 0)
        {
            device.AllowedIps.ReplacePeer(peer, options.AllowedIps);
        }

        if ((change & PeerChange.Keepalive) != 0)
        {
            peer.SetPersistentKeepalive(options.PersistentKeepalive);
        }
    }

    /// <summary>Sets the endpoint from <paramref name="options"/> (resolving a host name now, as at start).</summary>
    public static void SetEndpoint(WireGuardDevice device, Peer peer, WireGuardPeerOptions options)
    {
        if (options.Endpoint is { } endpoint)
        {
            peer.SetEndpoint(endpoint);
        }
        else if (options.EndpointHost is { } host)
        {
            if (EndpointResolver.TryResolve(host, out NetEndpoint resolved, out string why))
            {
                peer.SetEndpoint(resolved);
                WireGuardLog.EndpointResolved(device.Logger, peer.ShortKey, host, resolved.ToString());
            }
            else
            {
                WireGuardLog.EndpointUnresolved(device.Logger, peer.ShortKey, why);
            }
        }
    }

    private static PeerChange Compare(WireGuardPeerOptions a, WireGuardPeerOptions b)
    {
        PeerChange change = PeerChange.None;
        if (!SameBytes(a.PresharedKey, b.PresharedKey))
        {
            change |= PeerChange.PresharedKey;
        }

        if (a.Endpoint != b.Endpoint || !string.Equals(a.EndpointHost, b.EndpointHost, StringComparison.Ordinal))
        {
            change |= PeerChange.Endpoint;
        }

        if (!new HashSet<IpPrefix>(a.AllowedIps).SetEquals(b.AllowedIps))
        {
            change |= PeerChange.AllowedIps;
        }

        if (a.PersistentKeepalive != b.PersistentKeepalive)
        {
            change |= PeerChange.Keepalive;
        }

        return change;
    }

    private static string Describe(PeerChange change)
    {
        var parts = new List<string>(4);
        if ((change & PeerChange.Endpoint) != 0)
        {
            parts.Add("endpoint");
        }

        if ((change & PeerChange.AllowedIps) != 0)
        {
            parts.Add("allowedIps");
        }

        if ((change & PeerChange.Keepalive) != 0)
        {
            parts.Add("persistentKeepalive");
        }

        if ((change & PeerChange.PresharedKey) != 0)
        {
            parts.Add("presharedKey");
        }

        return string.Join(", ", parts);
    }

    private static bool SameBytes(byte[]? a, byte[]? b) =>
        a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);

    private bool TakeRuntimeChange(string key)
    {
        lock (_lock)
        {
            return _changedAtRunTime.Remove(key);
        }
    }

    [Flags]
    private enum PeerChange
    {
        None = 0,
        PresharedKey = 1,
        Endpoint = 2,
        AllowedIps = 4,
        Keepalive = 8,
        All = PresharedKey | Endpoint | AllowedIps | Keepalive,
    }
}

/// <summary>What a reload changed (for the log line and tests).</summary>
internal sealed class SyncResult
{
    /// <summary>Peers added (base64 keys).</summary>
    public List<string> Added { get; } = new();

    /// <summary>Peers whose settings changed.</summary>
    public List<string> Updated { get; } = new();

    /// <summary>Peers removed.</summary>
    public List<string> Removed { get; } = new();

    /// <summary>The private key changed: every session re-keys.</summary>
    public bool Rekeyed { get; set; }

    /// <summary>The listen port changed and the sockets moved.</summary>
    public bool Rebound { get; set; }
}
