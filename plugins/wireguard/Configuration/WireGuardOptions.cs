namespace Gateway.Plugins.WireGuard.Configuration;

/// <summary>The <c>wireguard:</c> section of gateway.yaml (DESIGN §5), already validated.</summary>
internal sealed class WireGuardOptions
{
    /// <summary>
    /// <c>privateKey</c>: this interface's Curve25519 private key, base64 of 32 bytes (`wg genkey`). Required to
    /// turn WireGuard on; absent = the plugin stays idle. Security: gateway.yaml then holds a secret, keep it mode 600.
    /// </summary>
    public byte[]? PrivateKey { get; set; }

    /// <summary><c>listenPort</c>: the UDP port for IPv4 and IPv6, 0–65535 (0 = any free port). Defaults to 51820.</summary>
    public int ListenPort { get; set; } = 51820;

    /// <summary><c>peers</c>: the peers. Defaults to none.</summary>
    public List<WireGuardPeerOptions> Peers { get; } = new();
}
