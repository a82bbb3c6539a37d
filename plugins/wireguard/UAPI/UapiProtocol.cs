using System.Globalization;
using System.Text;
using Gateway.Plugins.WireGuard.Configuration;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.WireGuard.UAPI;

/// <summary>
/// The WireGuard cross-platform userspace API (wireguard.com/xplatform): "get=1" dumps the interface, "set=1"
/// applies key=value lines; every reply ends with "errno=N" and an empty line. Keys are hex in this protocol.
/// </summary>
internal static class UapiProtocol
{
    /// <summary>No error.</summary>
    public const int Ok = 0;

    /// <summary>Invalid request or value (wireguard-go's IpcErrorInvalid, −EINVAL).</summary>
    public const int ErrorInvalid = -22;

    /// <summary>Malformed protocol (−EPROTO).</summary>
    public const int ErrorProtocol = -71;

    /// <summary>The requested port is in use (−EADDRINUSE).</summary>
    public const int ErrorPortInUse = -98;

    /// <summary>Writes the "get" dump (without the trailing errno line).</summary>
    public static string Get(WireGuardDevice device)
    {
        var sb = new StringBuilder();
        sb.Append("private_key=").Append(Convert.ToHexStringLower(device.Identity.PrivateKey)).Append('\n');
        if (device.ListenPort != 0)
        {
            sb.Append("listen_port=").Append(device.ListenPort.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        if (device.FirewallMark != 0)
        {
            sb.Append("fwmark=").Append(device.FirewallMark.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        foreach (Peer peer in device.Peers)
        {
            sb.Append("public_key=").Append(Convert.ToHexStringLower(peer.PublicKey)).Append('\n');
            if (peer.PresharedKey is { } psk)
            {
                sb.Append("preshared_key=").Append(Convert.ToHexStringLower(psk)).Append('\n');
            }

            sb.Append("protocol_version=1\n");
            if (peer.EndpointValue is { } endpoint)
            {
                sb.Append("endpoint=").Append(endpoint.ToString()).Append('\n');
            }

            long nanos = peer.LastHandshakeUnixNanos;
            sb.Append("last_handshake_time_sec=").Append((nanos / 1_000_000_000).ToString(CultureInfo.InvariantCulture)).Append('\n');
            sb.Append("last_handshake_time_nsec=").Append((nanos % 1_000_000_000).ToString(CultureInfo.InvariantCulture)).Append('\n');
            sb.Append("tx_bytes=").Append(peer.TxBytes.ToString(CultureInfo.InvariantCulture)).Append('\n');
            sb.Append("rx_bytes=").Append(peer.RxBytes.ToString(CultureInfo.InvariantCulture)).Append('\n');
            sb.Append("persistent_keepalive_interval=").Append(peer.PersistentKeepaliveSeconds.ToString(CultureInfo.InvariantCulture)).Append('\n');
            foreach (IpPrefix prefix in device.AllowedIps.PrefixesOf(peer))
            {
                sb.Append("allowed_ip=").Append(prefix.ToString()).Append('\n');
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// Applies "set" lines (without "set=1" and the final empty line). Returns 0 or a negative errno; on an error,
    /// lines before the bad one stay applied (as in wireguard-go). <paramref name="rebind"/> changes the listen port.
    /// </summary>
    public static int Set(WireGuardDevice device, IReadOnlyList<string> lines, Func<int, bool>? rebind, out string? error)
    {
        error = null;
        Peer? peer = null;
        bool dummy = false;
        bool createdNow = false;
        bool routesChanged = false;
        try
        {
            foreach (string line in lines)
            {
                int eq = line.IndexOf('=');
                if (eq <= 0)
                {
                    error = $"line '{line}' is not key=value";
                    return ErrorProtocol;
                }

                string key = line[..eq];
                string value = line[(eq + 1)..];
                if (key == "public_key")
                {
                    byte[]? publicKey = ParseHexKey(value);
                    if (publicKey is null)
                    {
                        error = "public_key is not 64 hex digits";
                        return ErrorInvalid;
                    }

                    // A peer with our own public key is ignored, as in wireguard-go.
                    dummy = publicKey.AsSpan().SequenceEqual(device.Identity.PublicKey);
                    peer = dummy ? null : device.FindPeer(publicKey);
                    createdNow = !dummy && peer is null;
                    if (createdNow)
                    {
                        peer = device.AddPeer(publicKey);
                    }

                    routesChanged = true;
                    continue;
                }

                if (peer is null && !dummy)
                {
                    int result = SetDevice(device, key, value, rebind, ref routesChanged, out error);
                    if (result != Ok)
                    {
                        return result;
                    }

                    continue;
                }

                if (dummy)
                {
                    continue;
                }

                if (key == "update_only")
                {
                    // update_only=true: only change an existing peer; one created by this request is undone and ignored.
                    if (value == "true" && createdNow)
                    {
                        device.RemovePeer(peer!);
                        peer = null;
                        dummy = true;
                    }

                    continue;
                }

                int peerResult = SetPeer(device, ref peer, key, value, ref routesChanged, out error);
                if (peerResult != Ok)
                {
                    return peerResult;
                }

                // After remove=true the rest of this peer's lines are ignored.
                dummy = peer is null;
            }

            return Ok;
        }
        finally
        {
            if (routesChanged)
            {
                device.NotifyRoutesChanged();
            }
        }
    }

    /// <summary>Parses a 32-byte key in hex (64 digits).</summary>
    public static byte[]? ParseHexKey(string text)
    {
        if (text.Length != 64)
        {
            return null;
        }

        try
        {
            return Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static int SetDevice(WireGuardDevice device, string key, string value, Func<int, bool>? rebind, ref bool routesChanged, out string? error)
    {
        error = null;
        switch (key)
        {
            case "private_key":
                byte[]? privateKey = ParseHexKey(value);
                if (privateKey is null)
                {
                    error = "private_key is not 64 hex digits";
                    return ErrorInvalid;
                }

                device.SetPrivateKey(privateKey);
                routesChanged = true;
                return Ok;
            case "listen_port":
                if (!ushort.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ushort port))
                {
                    error = $"listen_port '{value}' is not a port";
                    return ErrorInvalid;
                }

                if (port != device.ListenPort && (rebind is null || !rebind(port)))
                {
                    error = $"cannot listen on UDP port {port}";
                    return ErrorPortInUse;
                }

                return Ok;
            case "fwmark":
                if (!uint.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out uint mark))
                {
                    error = $"fwmark '{value}' is not a number";
                    return ErrorInvalid;
                }

                // The host owns the sockets' routing marks (ProtectSocket); the value is only reported back.
                device.FirewallMark = (int)mark;
                return Ok;
            case "replace_peers":
                if (value != "true")
                {
                    error = "replace_peers must be true";
                    return ErrorInvalid;
                }

                foreach (Peer existing in device.Peers)
                {
                    device.RemovePeer(existing);
                }

                routesChanged = true;
                return Ok;
            default:
                error = $"unknown device key '{key}'";
                return ErrorInvalid;
        }
    }

    private static int SetPeer(WireGuardDevice device, ref Peer? peer, string key, string value, ref bool routesChanged, out string? error)
    {
        error = null;
        Peer current = peer!;
        switch (key)
        {
            case "remove":
                if (value != "true")
                {
                    error = "remove must be true";
                    return ErrorInvalid;
                }

                device.RemovePeer(current);
                peer = null;
                routesChanged = true;
                return Ok;
            case "preshared_key":
                byte[]? psk = ParseHexKey(value);
                if (psk is null)
                {
                    error = "preshared_key is not 64 hex digits";
                    return ErrorInvalid;
                }

                current.SetPresharedKey(psk.AsSpan().IndexOfAnyExcept((byte)0) < 0 ? null : psk);
                return Ok;
            case "endpoint":
                // wg(8) resolves names itself; a raw UAPI client may send host:port, resolved here once.
                if (!EndpointResolver.TryResolve(value, out NetEndpoint endpoint, out string why))
                {
                    error = "endpoint " + why;
                    return ErrorInvalid;
                }

                current.SetEndpoint(endpoint);
                return Ok;
            case "persistent_keepalive_interval":
                if (!ushort.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ushort seconds))
                {
                    error = $"persistent_keepalive_interval '{value}' is not 0–65535";
                    return ErrorInvalid;
                }

                current.SetPersistentKeepalive(seconds);
                return Ok;
            case "replace_allowed_ips":
                if (value != "true")
                {
                    error = "replace_allowed_ips must be true";
                    return ErrorInvalid;
                }

                device.AllowedIps.RemoveByPeer(current);
                routesChanged = true;
                return Ok;
            case "allowed_ip":
                if (!IpPrefix.TryParse(value, out IpPrefix prefix))
                {
                    error = $"allowed_ip '{value}' is not a CIDR prefix";
                    return ErrorInvalid;
                }

                device.AllowedIps.Insert(prefix, current);
                routesChanged = true;
                return Ok;
            case "protocol_version":
                if (value != "1")
                {
                    error = $"protocol_version {value} is not supported (only 1)";
                    return ErrorInvalid;
                }

                return Ok;
            default:
                error = $"unknown peer key '{key}'";
                return ErrorInvalid;
        }
    }
}
