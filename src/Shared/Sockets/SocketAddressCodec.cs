// One copy of the socket-address decoding for every assembly that needs it (issue 19): linked into host/ and
// plugins/wireguard/ (see UdpBatchNative.cs beside this file for why each gets its own namespace).
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Gateway.Sdk.Networking;

#if GATEWAY_WIREGUARD
namespace Gateway.Plugins.WireGuard.Conn;
#else
namespace Gateway.Host.Sockets;
#endif

/// <summary>
/// Reads and writes <see cref="SocketAddress"/> buffers without creating <see cref="IPEndPoint"/> objects, so the
/// UDP receive loops allocate nothing per datagram. The buffer is the native sockaddr (Linux layout: family,
/// port in network order at offset 2, IPv4 address at 4, IPv6 address at 8).
/// </summary>
internal static class SocketAddressCodec
{
    private const ushort LinuxAfInet = 2;
    private const ushort LinuxAfInet6 = 10;

    /// <summary>The endpoint in <paramref name="address"/>.</summary>
    public static NetEndpoint Read(SocketAddress address)
    {
        Span<byte> bytes = address.Buffer.Span;
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
        NetAddress ip = address.Family == AddressFamily.InterNetworkV6 ? NetAddress.ReadV6(bytes.Slice(8, 16)) : NetAddress.ReadV4(bytes.Slice(4, 4));
        return new NetEndpoint(ip, port);
    }

    /// <summary>Writes <paramref name="endpoint"/> into <paramref name="address"/> (of the endpoint's family).</summary>
    public static void Write(SocketAddress address, NetEndpoint endpoint)
    {
        Span<byte> bytes = address.Buffer.Span;
        BinaryPrimitives.WriteUInt16BigEndian(bytes[2..], endpoint.Port);
        if (address.Family == AddressFamily.InterNetworkV6)
        {
            bytes.Slice(4, 4).Clear();
            endpoint.Address.WriteTo(bytes.Slice(8, 16));
            bytes.Slice(24, 4).Clear();
        }
        else
        {
            endpoint.Address.WriteTo(bytes.Slice(4, 4));
        }
    }

    /// <summary>Reads a native Linux sockaddr_in / sockaddr_in6 (family in host order at offset 0).</summary>
    public static NetEndpoint ReadNative(ReadOnlySpan<byte> sockaddr)
    {
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]);
        NetAddress ip = BitConverter.ToUInt16(sockaddr) == LinuxAfInet6 ? NetAddress.ReadV6(sockaddr.Slice(8, 16)) : NetAddress.ReadV4(sockaddr.Slice(4, 4));
        return new NetEndpoint(ip, port);
    }

    /// <summary>Writes a native Linux sockaddr_in / sockaddr_in6 for <paramref name="endpoint"/>; returns its length.</summary>
    public static int WriteNative(Span<byte> sockaddr, NetEndpoint endpoint)
    {
        BinaryPrimitives.WriteUInt16BigEndian(sockaddr[2..], endpoint.Port);
        if (endpoint.Address.IsV6)
        {
            BitConverter.TryWriteBytes(sockaddr, LinuxAfInet6);
            sockaddr.Slice(4, 4).Clear();
            endpoint.Address.WriteTo(sockaddr.Slice(8, 16));
            sockaddr.Slice(24, 4).Clear();
            return 28;
        }

        BitConverter.TryWriteBytes(sockaddr, LinuxAfInet);
        endpoint.Address.WriteTo(sockaddr.Slice(4, 4));
        sockaddr.Slice(8, 8).Clear();
        return 16;
    }

    /// <summary>
    /// True when both hold the same sockaddr. <see cref="SocketAddress.Equals(SocketAddress)"/> compares whole
    /// buffers, so a receive address (a 28-byte buffer with Size 16 for IPv4) never equals a 16-byte copy of itself;
    /// this compares the first Size bytes only.
    /// </summary>
    public static bool Same(SocketAddress a, SocketAddress b) =>
        ReferenceEquals(a, b) || (a.Size == b.Size && a.Buffer.Span[..a.Size].SequenceEqual(b.Buffer.Span[..b.Size]));
}
