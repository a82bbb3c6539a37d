using Gateway.Host.Tun;

namespace Gateway.EndToEnd.Tun;

/// <summary>
/// Every test of <see cref="TunEndToEndTests"/> on a plain TUN (no IFF_VNET_HDR): the path a kernel that refuses
/// the virtio header gets, so one read and one write per packet must still carry everything.
/// </summary>
public sealed class TunWithoutOffloadsEndToEndTests : TunEndToEndTests
{
    private protected override TunOffloads Offloads => TunOffloads.None;
}
