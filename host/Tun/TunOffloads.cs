namespace Gateway.Host.Tun;

/// <summary>What a Linux TUN is opened with. Production always asks for <see cref="Full"/> and steps down to what the
/// kernel grants; the other values make tests run each step-down path on a kernel that grants everything.</summary>
internal enum TunOffloads
{
    /// <summary>IFF_VNET_HDR and TUNSETOFFLOAD with checksum, TSO and USO (or the most of them the kernel takes).</summary>
    Full,

    /// <summary>IFF_VNET_HDR without TUNSETOFFLOAD, as on a kernel that refuses every offload: each read is one plain
    /// packet behind a virtio header, writes may still be GSO super-packets.</summary>
    HeaderOnly,

    /// <summary>A plain TUN without IFF_VNET_HDR, as on a kernel that refuses it.</summary>
    None,
}
