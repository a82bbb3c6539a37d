namespace Gateway.Sdk.Handlers;

/// <summary>Where a request entered the gateway; replies go back the same way.</summary>
public enum PacketOrigin
{
    /// <summary>An ordinary host socket (<c>listen:</c>).</summary>
    HostSocket,

    /// <summary>The TUN device: an application on this host sent it to a virtual endpoint.</summary>
    Tun,

    /// <summary>A tunnel plugin (for example a WireGuard peer) delivered it.</summary>
    Tunnel,
}
