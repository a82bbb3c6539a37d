using Gateway.Host.Tun;

namespace Gateway.EndToEnd.Tun;

/// <summary>
/// Every test of <see cref="TunEndToEndTests"/> on a TUN with the virtio header but no offloads (no TUNSETOFFLOAD):
/// the path a kernel that takes IFF_VNET_HDR and refuses every offload gets. Reads are single packets behind a
/// header; writes may still be coalesced into GSO frames.
/// </summary>
public sealed class TunHeaderOnlyEndToEndTests : TunEndToEndTests
{
    private protected override TunOffloads Offloads => TunOffloads.HeaderOnly;
}
