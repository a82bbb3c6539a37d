using System.Diagnostics.Metrics;
using Gateway.Plugins.WireGuard.Device;

namespace Gateway.Plugins.WireGuard.Metrics;

/// <summary>
/// The plugin's instruments on <c>IPluginContext.Meter</c>. All are observable: they read the counters the data
/// path already keeps (per peer and per device) when the exporter collects, so the packet path pays nothing for
/// them. Per-peer series carry <c>peer</c> = the first 8 characters of the base64 public key, as `wg` shows it.
/// </summary>
internal sealed class WireGuardMetrics
{
    private static readonly string[] DropReasonNames = CreateDropReasonNames();

    private readonly Func<WireGuardDevice?> _device;

    /// <summary>Creates the instruments on <paramref name="meter"/> for <paramref name="device"/>.</summary>
    public WireGuardMetrics(Meter meter, WireGuardDevice device)
        : this(meter, () => device)
    {
    }

    /// <summary>
    /// Creates the instruments on <paramref name="meter"/> for whatever device <paramref name="device"/> returns when
    /// they are read: the plugin's device comes and goes with reloads (a key added or removed), its instruments stay.
    /// Nothing is reported while it returns null.
    /// </summary>
    public WireGuardMetrics(Meter meter, Func<WireGuardDevice?> device)
    {
        _device = device;
        meter.CreateObservableCounter("wireguard.handshakes", ObserveHandshakes, "{handshake}",
            "Handshakes by result: initiated (initiations sent, retries included), completed, failed (given up after REKEY_ATTEMPT_TIME)");
        meter.CreateObservableCounter("wireguard.rx", ObserveRxBytes, "By", "Bytes received from each peer (authenticated WireGuard messages, UDP payload)");
        meter.CreateObservableCounter("wireguard.tx", ObserveTxBytes, "By", "Bytes sent to each peer (WireGuard messages, UDP payload)");
        meter.CreateObservableCounter("wireguard.rx.packets", ObserveRxPackets, "{packet}", "Authenticated messages received from each peer");
        meter.CreateObservableCounter("wireguard.tx.packets", ObserveTxPackets, "{packet}", "Messages sent to each peer");
        meter.CreateObservableCounter("wireguard.dropped", ObserveDrops, "{packet}", "Packets and messages dropped, by reason");
        meter.CreateObservableCounter("wireguard.cookie_replies", () => _device()?.CookieRepliesSent ?? 0, "{message}",
            "Cookie replies sent to handshake messages under load (whitepaper §5.4.7)");
        meter.CreateObservableCounter("wireguard.loop_failures", () => _device()?.LoopFailures.Count ?? 0, "{exception}",
            "Unexpected exceptions met and survived by the UDP receive threads and the timer (each is a bug; see the log)");
        meter.CreateObservableGauge("wireguard.peers", () => _device()?.Peers.Count ?? 0, "{peer}", "Configured peers");
    }

    private static string[] CreateDropReasonNames()
    {
        DropReason[] reasons = Enum.GetValues<DropReason>();
        var names = new string[reasons.Length];
        foreach (DropReason reason in reasons)
        {
            string name = reason.ToString();
            names[(int)reason] = char.ToLowerInvariant(name[0]) + name[1..];
        }

        return names;
    }

    private IEnumerable<Measurement<long>> ObserveHandshakes()
    {
        if (_device() is not { } device)
        {
            return [];
        }

        return
        [
            new(device.HandshakesInitiated, new KeyValuePair<string, object?>("result", "initiated")),
            new(device.HandshakesCompleted, new KeyValuePair<string, object?>("result", "completed")),
            new(device.HandshakesFailed, new KeyValuePair<string, object?>("result", "failed")),
        ];
    }

    private IEnumerable<Measurement<long>> ObserveDrops()
    {
        if (_device() is not { } device)
        {
            return [];
        }

        var measurements = new List<Measurement<long>>(DropReasonNames.Length);
        for (int i = 0; i < DropReasonNames.Length; i++)
        {
            measurements.Add(new(device.Drops((DropReason)i), new KeyValuePair<string, object?>("reason", DropReasonNames[i])));
        }

        return measurements;
    }

    private IEnumerable<Measurement<long>> ObserveRxBytes() => PerPeer(static peer => peer.RxBytes);

    private IEnumerable<Measurement<long>> ObserveTxBytes() => PerPeer(static peer => peer.TxBytes);

    private IEnumerable<Measurement<long>> ObserveRxPackets() => PerPeer(static peer => peer.RxPackets);

    private IEnumerable<Measurement<long>> ObserveTxPackets() => PerPeer(static peer => peer.TxPackets);

    private List<Measurement<long>> PerPeer(Func<Peer, long> value)
    {
        IReadOnlyList<Peer> peers = _device()?.Peers ?? [];
        var measurements = new List<Measurement<long>>(peers.Count);
        foreach (Peer peer in peers)
        {
            measurements.Add(new(value(peer), new KeyValuePair<string, object?>("peer", peer.ShortKey)));
        }

        return measurements;
    }
}
