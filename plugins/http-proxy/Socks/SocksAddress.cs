using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.Plugins.HttpProxy.Socks;

/// <summary>
/// A SOCKS5 address and port (RFC 1928 §4-§5, §7): ATYP 1 (IPv4, 4 bytes), 3 (a domain name, a length byte then the
/// name) or 4 (IPv6, 16 bytes), then the port in network order. The same encoding serves requests, replies and the
/// header of every relayed UDP datagram.
/// </summary>
internal readonly struct SocksAddress
{
    public const byte IPv4 = 1;
    public const byte DomainName = 3;
    public const byte IPv6 = 4;

    private SocksAddress(IPAddress? address, string? host, int port)
    {
        Address = address;
        Host = host;
        Port = port;
    }

    /// <summary>The IP address, or null for a domain name.</summary>
    public IPAddress? Address { get; }

    /// <summary>The domain name (ATYP 3), or null for an address.</summary>
    public string? Host { get; }

    public int Port { get; }

    /// <summary>"host:port" for logs ("[::1]:22" for IPv6).</summary>
    public override string ToString() =>
        Host is not null ? $"{Host}:{Port}" : Address!.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{Address}]:{Port}" : $"{Address}:{Port}";

    public static SocksAddress FromEndPoint(IPEndPoint endpoint) => new(endpoint.Address, null, endpoint.Port);

    /// <summary>
    /// Reads an ATYP-prefixed address from <paramref name="input"/>: the bytes used, 0 when more are needed, -1 for an
    /// unknown ATYP (reply 8), -2 for an empty or non-ASCII domain name.
    /// </summary>
    public static int TryRead(ReadOnlySpan<byte> input, out SocksAddress address)
    {
        address = default;
        if (input.IsEmpty)
        {
            return 0;
        }

        switch (input[0])
        {
            case IPv4:
                if (input.Length < 1 + 4 + 2)
                {
                    return 0;
                }

                address = new SocksAddress(new IPAddress(input.Slice(1, 4)), null, BinaryPrimitives.ReadUInt16BigEndian(input[5..]));
                return 7;
            case IPv6:
                if (input.Length < 1 + 16 + 2)
                {
                    return 0;
                }

                address = new SocksAddress(new IPAddress(input.Slice(1, 16)), null, BinaryPrimitives.ReadUInt16BigEndian(input[17..]));
                return 19;
            case DomainName:
                if (input.Length < 2)
                {
                    return 0;
                }

                int length = input[1];
                if (input.Length < 2 + length + 2)
                {
                    return 0;
                }

                ReadOnlySpan<byte> name = input.Slice(2, length);
                // A host name is printable ASCII (RFC 1035 §2.3.1 letters, digits, hyphens; IP literals too): anything
                // else would reach the resolver and the logs as given.
                if (length == 0 || name.IndexOfAnyExceptInRange((byte)0x21, (byte)0x7E) >= 0)
                {
                    return -2;
                }

                string host = Encoding.ASCII.GetString(name);
                // A client may send an IP literal as a "domain name" (curl does for --socks5-hostname with an address).
                address = IPAddress.TryParse(host, out IPAddress? literal) && !host.Contains('%')
                    ? new SocksAddress(literal, null, BinaryPrimitives.ReadUInt16BigEndian(input[(2 + length)..]))
                    : new SocksAddress(null, host, BinaryPrimitives.ReadUInt16BigEndian(input[(2 + length)..]));
                return 2 + length + 2;
            default:
                return -1;
        }
    }

    /// <summary>Writes an address in ATYP form (IPv4-mapped IPv6 as IPv4); the bytes written (at most 19).</summary>
    public static int Write(Span<byte> output, IPAddress address, int port)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        int length;
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            output[0] = IPv4;
            address.TryWriteBytes(output.Slice(1, 4), out _);
            length = 5;
        }
        else
        {
            output[0] = IPv6;
            address.TryWriteBytes(output.Slice(1, 16), out _);
            length = 17;
        }

        BinaryPrimitives.WriteUInt16BigEndian(output[length..], (ushort)port);
        return length + 2;
    }
}
