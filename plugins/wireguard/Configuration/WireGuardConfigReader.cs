using System.Globalization;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Security;
using Microsoft.Extensions.Configuration;

namespace Gateway.Plugins.WireGuard.Configuration;

/// <summary>Reads and validates the <c>wireguard:</c> section, reporting every problem with its key path.</summary>
internal static class WireGuardConfigReader
{
    private static readonly string[] TopKeys = ["privateKey", "privateKeyFile", "listenPort", "peers"];
    private static readonly string[] PeerKeys = ["publicKey", "presharedKey", "endpoint", "allowedIps", "persistentKeepalive"];

    /// <summary>
    /// Reads <paramref name="section"/>; every problem is passed to <paramref name="error"/> (key path, message).
    /// <c>privateKeyFile</c> is resolved against <paramref name="configDirectory"/> and read now (so `gateway check`
    /// refuses a key file that others can read, at that key's file:line:col).
    /// </summary>
    public static WireGuardOptions Read(IConfiguration section, string configDirectory, Action<string, string> error)
    {
        var options = new WireGuardOptions();
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (Array.IndexOf(TopKeys, child.Key) < 0)
            {
                error(child.Key, $"unknown key '{child.Key}' (expected one of: {string.Join(", ", TopKeys)})");
            }
        }

        string? privateKey = section["privateKey"];
        string? privateKeyFile = section["privateKeyFile"];
        if (privateKey is not null && !string.IsNullOrEmpty(privateKeyFile))
        {
            error("privateKeyFile", "give either privateKey or privateKeyFile, not both");
        }
        else if (privateKey is not null)
        {
            options.PrivateKey = ReadKey(privateKey, "privateKey", error);
        }
        else if (privateKeyFile is not null)
        {
            options.PrivateKeyFile = Path.GetFullPath(privateKeyFile, configDirectory);
            options.PrivateKey = ReadKeyFile(options.PrivateKeyFile, error);
        }

        string? port = section["listenPort"];
        if (port is not null)
        {
            if (int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value <= 65535)
            {
                options.ListenPort = value;
            }
            else
            {
                error("listenPort", $"'{port}' is not a UDP port (0–65535)");
            }
        }

        var seen = new HashSet<string>();
        foreach (IConfigurationSection peerSection in section.GetSection("peers").GetChildren())
        {
            string path = "peers:" + peerSection.Key;
            var peer = new WireGuardPeerOptions();
            foreach (IConfigurationSection child in peerSection.GetChildren())
            {
                if (Array.IndexOf(PeerKeys, child.Key) < 0)
                {
                    error($"{path}:{child.Key}", $"unknown key '{child.Key}' (expected one of: {string.Join(", ", PeerKeys)})");
                }
            }

            string? publicKey = peerSection["publicKey"];
            if (publicKey is null)
            {
                error($"{path}:publicKey", "missing: every peer needs its public key (base64, from `wg pubkey`)");
            }
            else
            {
                peer.PublicKey = ReadKey(publicKey, $"{path}:publicKey", error) ?? [];
                if (peer.PublicKey.Length == 32 && !seen.Add(publicKey.Trim()))
                {
                    error($"{path}:publicKey", "this public key is already used by another peer");
                }
            }

            string? psk = peerSection["presharedKey"];
            if (!string.IsNullOrEmpty(psk))
            {
                peer.PresharedKey = ReadKey(psk, $"{path}:presharedKey", error);
            }

            string? endpoint = peerSection["endpoint"];
            if (!string.IsNullOrEmpty(endpoint))
            {
                if (NetEndpoint.TryParse(endpoint, out NetEndpoint parsed))
                {
                    peer.Endpoint = parsed;
                }
                else if (EndpointResolver.TryParseHostPort(endpoint, out _, out _))
                {
                    // Resolved when the plugin starts, not while validating (`gateway check` must not depend on DNS).
                    peer.EndpointHost = endpoint;
                }
                else
                {
                    error($"{path}:endpoint", $"'{endpoint}' is not ip:port, [ipv6]:port or host:port");
                }
            }

            IConfigurationSection allowed = peerSection.GetSection("allowedIps");
            if (allowed.Value is { } single)
            {
                AddPrefix(peer, single, $"{path}:allowedIps", error);
            }

            foreach (IConfigurationSection item in allowed.GetChildren())
            {
                AddPrefix(peer, item.Value ?? string.Empty, $"{path}:allowedIps:{item.Key}", error);
            }

            string? keepalive = peerSection["persistentKeepalive"];
            if (!string.IsNullOrEmpty(keepalive))
            {
                if (int.TryParse(keepalive, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) && seconds <= 65535)
                {
                    peer.PersistentKeepalive = seconds;
                }
                else
                {
                    error($"{path}:persistentKeepalive", $"'{keepalive}' is not a number of seconds (0–65535; 0 = off)");
                }
            }

            options.Peers.Add(peer);
        }

        if (options.PrivateKey is null && options.Peers.Count > 0)
        {
            error("privateKey", "missing: peers are configured but there is no privateKey or privateKeyFile (generate one with `wg genkey`)");
        }

        return options;
    }

    /// <summary>
    /// Reads a private key file as `wg genkey &gt; FILE` writes it (base64 and a newline). Refused, as ssh refuses a
    /// private key, when group or others may read it or another non-root user owns it (FileTrust.CheckSecretFile).
    /// </summary>
    private static byte[]? ReadKeyFile(string path, Action<string, string> error)
    {
        string? distrust = FileTrust.CheckSecretFile(path);
        if (distrust is not null)
        {
            error("privateKeyFile", $"{path} {distrust}");
            return null;
        }

        string text;
        try
        {
            // A key file is 45 bytes; reading more than a little would mean it is not one.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > 1024)
            {
                error("privateKeyFile", $"{path} is {stream.Length} bytes: not a WireGuard key file (base64 of 32 bytes, as `wg genkey` writes it)");
                return null;
            }

            using var reader = new StreamReader(stream);
            text = reader.ReadToEnd();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error("privateKeyFile", $"{path} cannot be read: {ex.Message}");
            return null;
        }

        byte[] key = new byte[32];
        if (Convert.TryFromBase64String(text.Trim(), key, out int written) && written == 32)
        {
            return key;
        }

        error("privateKeyFile", $"{path} does not hold a WireGuard key: expected base64 of 32 bytes (as `wg genkey` writes it)");
        return null;
    }

    private static void AddPrefix(WireGuardPeerOptions peer, string text, string path, Action<string, string> error)
    {
        if (IpPrefix.TryParse(text, out IpPrefix prefix))
        {
            peer.AllowedIps.Add(prefix);
        }
        else
        {
            error(path, $"'{text}' is not a CIDR prefix such as 10.99.0.0/24 or fd99::/64");
        }
    }

    /// <summary>Decodes a base64 32-byte key; reports and returns null otherwise.</summary>
    public static byte[]? ReadKey(string text, string path, Action<string, string> error)
    {
        byte[] key = new byte[32];
        if (Convert.TryFromBase64String(text.Trim(), key, out int written) && written == 32)
        {
            return key;
        }

        error(path, "not a WireGuard key: expected base64 of 32 bytes (44 characters, as `wg genkey`/`wg pubkey` print)");
        return null;
    }
}
