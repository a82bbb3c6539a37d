using Gateway.Sdk.Configuration;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Security;
using Microsoft.Extensions.Configuration;

namespace Gateway.Plugins.WireGuard.Configuration;

/// <summary>
/// Reads and validates the <c>wireguard:</c> section with the SDK's <see cref="SectionReader"/>, reporting every
/// problem with its key path; unknown keys are reported in the SDK's one wording, and the keys the host reads in every
/// plugin section (logLevel, ...) are known.
/// </summary>
internal static class WireGuardConfigReader
{
    /// <summary>
    /// Reads <paramref name="section"/>; every problem is passed to <paramref name="error"/> (key path, message).
    /// <c>privateKeyFile</c> is resolved against <paramref name="configDirectory"/> and read now (so `gateway check`
    /// refuses a key file that others can read, at that key's file:line:col).
    /// </summary>
    public static WireGuardOptions Read(IConfiguration section, string configDirectory, Action<string, string> error)
    {
        var reader = new SectionReader(section, "wireguard", error);
        var options = new WireGuardOptions();
        string? privateKey = reader.String("privateKey");
        string? privateKeyFile = reader.String("privateKeyFile");
        if (privateKey is not null && privateKeyFile is not null)
        {
            reader.Error("privateKeyFile", "give either privateKey or privateKeyFile, not both");
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

        options.ListenPort = reader.Int("listenPort", options.ListenPort, 0, 65535);
        var seen = new HashSet<string>();
        foreach (SectionReader peerReader in reader.Maps("peers"))
        {
            string path = peerReader.Path;
            var peer = new WireGuardPeerOptions();
            string? publicKey = peerReader.String("publicKey");
            if (publicKey is null)
            {
                peerReader.Error("publicKey", "missing: every peer needs its public key (base64, from `wg pubkey`)");
            }
            else
            {
                peer.PublicKey = ReadKey(publicKey, $"{path}:publicKey", error) ?? [];
                if (peer.PublicKey.Length == 32 && !seen.Add(publicKey.Trim()))
                {
                    peerReader.Error("publicKey", "this public key is already used by another peer");
                }
            }

            if (peerReader.String("presharedKey") is { } psk)
            {
                peer.PresharedKey = ReadKey(psk, $"{path}:presharedKey", error);
            }

            if (peerReader.String("endpoint") is { } endpoint)
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
                    peerReader.Error("endpoint", $"'{endpoint}' is not ip:port, [ipv6]:port or host:port");
                }
            }

            peer.AllowedIps.AddRange(peerReader.Prefixes("allowedIps", []));
            peer.PersistentKeepalive = peerReader.Int("persistentKeepalive", peer.PersistentKeepalive, 0, 65535);
            options.Peers.Add(peer);
        }

        if (options.PrivateKey is null && options.Peers.Count > 0)
        {
            reader.Error("privateKey", "missing: peers are configured but there is no privateKey or privateKeyFile (generate one with `wg genkey`)");
        }

        reader.Complete();
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
