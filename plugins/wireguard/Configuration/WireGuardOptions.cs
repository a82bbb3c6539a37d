namespace Gateway.Plugins.WireGuard.Configuration;

/// <summary>The <c>wireguard:</c> section of gateway.yaml (DESIGN §5), already validated.</summary>
internal sealed class WireGuardOptions
{
    /// <summary>
    /// <c>privateKey</c> (or the key read from <c>privateKeyFile</c>): this interface's Curve25519 private key, base64
    /// of 32 bytes (`wg genkey`). One of the two is required to turn WireGuard on; neither = the plugin stays idle.
    /// Security: with <c>privateKey</c>, gateway.yaml holds a secret: keep it mode 600, or use <c>privateKeyFile</c>.
    /// </summary>
    public byte[]? PrivateKey { get; set; }

    /// <summary>
    /// <c>privateKeyFile</c>: a file holding the private key as `wg genkey` writes it (relative paths from
    /// gateway.yaml's folder). Defaults to none. Security: refused (a config error at this key) when group or others
    /// have any access to it or another non-root user owns it, as ssh refuses such a private key; `chmod 600` it.
    /// It is read again on every reload of gateway.yaml.
    /// </summary>
    public string? PrivateKeyFile { get; set; }

    /// <summary><c>listenPort</c>: the UDP port for IPv4 and IPv6, 0–65535 (0 = any free port). Defaults to 51820.</summary>
    public int ListenPort { get; set; } = 51820;

    /// <summary><c>peers</c>: the peers. Defaults to none.</summary>
    public List<WireGuardPeerOptions> Peers { get; } = new();
}
