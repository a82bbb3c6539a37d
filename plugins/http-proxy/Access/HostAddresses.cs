using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.HttpProxy.Access;

/// <summary>
/// This host's own addresses (every address of every interface, loopback included), re-read when the kernel
/// reports an address change and every 30 s besides (a missed notification must not leave a stale list for
/// long). Two questions depend on it: is a client local (its source address is ours: issue #13 — "arrived
/// through the TUN" is not the same thing once the host forwards packets), and is a destination this host.
/// </summary>
internal sealed class HostAddresses : IDisposable
{
    private static readonly TimeSpan RefreshPeriod = TimeSpan.FromSeconds(30);

    private readonly Timer? _timer;
    private readonly NetworkAddressChangedEventHandler? _changed;
    private volatile NetAddress[] _addresses;

    private HostAddresses(NetAddress[] addresses, bool live)
    {
        _addresses = addresses;
        if (live)
        {
            // NetworkChange's event is static: the handler is removed in Dispose, or it would keep this plugin's
            // load context alive after an unload.
            _changed = (_, _) => Refresh();
            NetworkChange.NetworkAddressChanged += _changed;
            _timer = new Timer(static state => ((HostAddresses)state!).Refresh(), this, RefreshPeriod, RefreshPeriod);
        }
    }

    /// <summary>The addresses now (unmapped IPv4 and IPv6, loopback included).</summary>
    public IReadOnlyList<NetAddress> Current => _addresses;

    /// <summary>Reads the interfaces now and follows their changes until disposed.</summary>
    public static HostAddresses FromInterfaces() => new(Read(), live: true);

    /// <summary>A fixed list (tests acting out a host with these addresses); loopback is always included.</summary>
    public static HostAddresses Fixed(params NetAddress[] addresses) =>
        new([NetAddress.Parse("127.0.0.1"), NetAddress.Parse("::1"), .. addresses], live: false);

    /// <summary>
    /// True when <paramref name="address"/> is one of this host's: any of 127.0.0.0/8 and ::1 (the kernel
    /// answers all of 127/8 on lo), or an interface address. IPv4-mapped IPv6 counts as its IPv4 address.
    /// </summary>
    public bool Contains(NetAddress address)
    {
        address = Unmap(address);
        if (address.IsV4 ? (address.V4Value >> 24) == 127 : address.Value == UInt128.One)
        {
            return true;
        }

        foreach (NetAddress own in _addresses)
        {
            if (own == address)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>An IPv4 client or destination on a dual-stack socket shows up as ::ffff:a.b.c.d.</summary>
    public static NetAddress Unmap(NetAddress address)
    {
        const ulong MappedPrefix = 0xFFFF;
        return address.IsV6 && (address.Value >> 32) == MappedPrefix ? NetAddress.FromV4((uint)address.Value) : address;
    }

    private void Refresh()
    {
        try
        {
            _addresses = Read();
        }
        catch (NetworkInformationException)
        {
            // Keep the previous list; the next change or tick tries again.
        }
    }

    private static NetAddress[] Read()
    {
        List<NetAddress> addresses = [];
        foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            foreach (UnicastIPAddressInformation unicast in nic.GetIPProperties().UnicastAddresses)
            {
                IPAddress address = unicast.Address;
                if (address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
                {
                    // A link-local IPv6 address carries its scope id; the address bits alone identify it here.
                    addresses.Add(Unmap(NetAddress.FromIPAddress(address)));
                }
            }
        }

        return [.. addresses];
    }

    public void Dispose()
    {
        if (_changed is not null)
        {
            NetworkChange.NetworkAddressChanged -= _changed;
        }

        _timer?.Dispose();
    }
}
