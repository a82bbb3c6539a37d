using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Sdk.Api;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.WireGuard.Api;

/// <summary>
/// <c>GET /api/v1/plugins/wireguard/peers</c> (the admin API contract, helpers/API-CONTRACT.md): this interface's
/// public key and port and, per peer, what `wg show` shows. Secrets (private and preshared keys) are never in it.
/// </summary>
/// <remarks>
/// Written with <see cref="Utf8JsonWriter"/> in the contract's camelCase rather than through
/// <see cref="ApiResponse.Json{T}"/>: the serializer's metadata cache lives in the host's (shared) options and would
/// keep types of this collectible plugin reachable after it is unloaded.
/// </remarks>
internal static class PeersApi
{
    /// <summary>The answer for <paramref name="device"/> (null: WireGuard is off, no peers) at <paramref name="now"/>.</summary>
    public static ApiResponse Answer(WireGuardDevice? device, DateTimeOffset now) =>
        new(200, "application/json; charset=utf-8", Write(device, now));

    /// <summary>The JSON document.</summary>
    public static byte[] Write(WireGuardDevice? device, DateTimeOffset now)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (device is not null)
            {
                json.WriteString("publicKey", Convert.ToBase64String(device.Identity.PublicKey));
                json.WriteNumber("listenPort", device.ListenPort);
            }

            json.WriteStartArray("peers");
            if (device is not null)
            {
                foreach (Peer peer in device.Peers)
                {
                    WritePeer(json, device, peer, now);
                }
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WritePeer(Utf8JsonWriter json, WireGuardDevice device, Peer peer, DateTimeOffset now)
    {
        json.WriteStartObject();
        json.WriteString("publicKey", peer.PublicKeyBase64);
        if (peer.EndpointValue is { } endpoint)
        {
            json.WriteString("endpoint", endpoint.ToString());
        }

        json.WriteStartArray("allowedIps");
        foreach (IpPrefix prefix in device.AllowedIps.PrefixesOf(peer))
        {
            json.WriteStringValue(prefix.ToString());
        }

        json.WriteEndArray();
        long nanos = peer.LastHandshakeUnixNanos;
        if (nanos != 0)
        {
            // Omitted when there was none (the contract); RFC 3339 UTC to the second, as `wg show` counts.
            DateTimeOffset at = DateTimeOffset.UnixEpoch.AddTicks(nanos / 100);
            json.WriteString("lastHandshake", at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            json.WriteNumber("lastHandshakeSecondsAgo", Math.Max(0, (long)(now - at).TotalSeconds));
        }

        json.WriteNumber("rxBytes", peer.RxBytes);
        json.WriteNumber("txBytes", peer.TxBytes);
        json.WriteNumber("persistentKeepalive", peer.PersistentKeepaliveSeconds);
        json.WriteEndObject();
    }
}
