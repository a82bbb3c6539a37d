using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace Gateway.Sdk.Networking;

/// <summary>
/// An IPv4 or IPv6 address as a value type, so the packet path can compare, hash and store
/// addresses without allocating (unlike <see cref="IPAddress"/>).
/// </summary>
/// <remarks>
/// The address is kept as a 128-bit big-endian number; an IPv4 address occupies the low 32 bits
/// and is distinguished by <see cref="IsV4"/> (it is never equal to the IPv6 address with the same bits).
/// </remarks>
public readonly struct NetAddress : IEquatable<NetAddress>, IComparable<NetAddress>, ISpanFormattable, IUtf8SpanFormattable
{
    private readonly UInt128 _value;
    private readonly bool _isV6;

    private NetAddress(UInt128 value, bool isV6)
    {
        _value = value;
        _isV6 = isV6;
    }

    /// <summary>0.0.0.0.</summary>
    public static NetAddress AnyV4 => default;

    /// <summary>::.</summary>
    public static NetAddress AnyV6 => new(UInt128.Zero, true);

    /// <summary>True for an IPv4 address.</summary>
    public bool IsV4 => !_isV6;

    /// <summary>True for an IPv6 address.</summary>
    public bool IsV6 => _isV6;

    /// <summary>The address family: <see cref="AddressFamily.InterNetwork"/> or <see cref="AddressFamily.InterNetworkV6"/>.</summary>
    public AddressFamily Family => _isV6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;

    /// <summary>Length of the address in bytes: 4 or 16.</summary>
    public int ByteLength => _isV6 ? 16 : 4;

    /// <summary>Length of the address in bits: 32 or 128.</summary>
    public int BitLength => _isV6 ? 128 : 32;

    /// <summary>The address as a big-endian number (an IPv4 address in the low 32 bits).</summary>
    public UInt128 Value => _value;

    /// <summary>True for 0.0.0.0 or ::.</summary>
    public bool IsUnspecified => _value == UInt128.Zero;

    /// <summary>An IPv4 address from its 32-bit big-endian value (10.0.0.1 is 0x0A000001).</summary>
    public static NetAddress FromV4(uint value) => new(value, false);

    /// <summary>An IPv6 address from its 128-bit big-endian value.</summary>
    public static NetAddress FromV6(UInt128 value) => new(value, true);

    /// <summary>An address from its network-order bytes: 4 bytes for IPv4, 16 for IPv6.</summary>
    /// <exception cref="ArgumentException">The span is neither 4 nor 16 bytes long.</exception>
    public static NetAddress FromBytes(ReadOnlySpan<byte> bytes) => bytes.Length switch
    {
        4 => new NetAddress(BinaryPrimitives.ReadUInt32BigEndian(bytes), false),
        16 => new NetAddress(BinaryPrimitives.ReadUInt128BigEndian(bytes), true),
        _ => throw new ArgumentException("an address is 4 or 16 bytes", nameof(bytes)),
    };

    /// <summary>Reads an IPv4 address from the first 4 bytes of <paramref name="bytes"/>.</summary>
    public static NetAddress ReadV4(ReadOnlySpan<byte> bytes) => new(BinaryPrimitives.ReadUInt32BigEndian(bytes), false);

    /// <summary>Reads an IPv6 address from the first 16 bytes of <paramref name="bytes"/>.</summary>
    public static NetAddress ReadV6(ReadOnlySpan<byte> bytes) => new(BinaryPrimitives.ReadUInt128BigEndian(bytes), true);

    /// <summary>Converts an <see cref="IPAddress"/>; an IPv4-mapped IPv6 address becomes IPv4.</summary>
    public static NetAddress FromIPAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> buffer = stackalloc byte[16];
        address.TryWriteBytes(buffer, out int written);
        return FromBytes(buffer[..written]);
    }

    /// <summary>
    /// Parses "10.0.0.1" or "fd00::1". Strict: IPv4 must be four dotted decimal parts (the legacy
    /// "10.1" and hexadecimal forms that <see cref="IPAddress.TryParse(string?, out IPAddress?)"/> accepts are refused),
    /// and IPv6 scope ids ("%eth0") are refused.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out NetAddress address)
    {
        address = default;
        if (text.IsEmpty || text.Contains('%'))
        {
            return false;
        }

        if (!text.Contains(':') && (text.Count('.') != 3 || text.ContainsAnyExcept("0123456789.")))
        {
            return false;
        }

        if (IPAddress.TryParse(text, out IPAddress? ip))
        {
            address = FromIPAddress(ip);
            return true;
        }

        return false;
    }

    /// <summary>Parses "10.0.0.1" or "fd00::1".</summary>
    /// <exception cref="FormatException">The text is not an IP address.</exception>
    public static NetAddress Parse(string text) =>
        TryParse(text, out NetAddress address) ? address : throw new FormatException($"'{text}' is not an IP address");

    /// <summary>Writes the network-order bytes (4 or 16) into <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        if (_isV6)
        {
            BinaryPrimitives.WriteUInt128BigEndian(destination, _value);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)_value);
        }
    }

    /// <summary>The IPv4 address as a 32-bit big-endian value; only meaningful when <see cref="IsV4"/>.</summary>
    public uint V4Value => (uint)_value;

    /// <summary>Converts to an <see cref="IPAddress"/> (allocates).</summary>
    public IPAddress ToIPAddress()
    {
        Span<byte> buffer = stackalloc byte[16];
        WriteTo(buffer);
        return new IPAddress(buffer[..ByteLength]);
    }

    /// <inheritdoc/>
    public bool Equals(NetAddress other) => _value == other._value && _isV6 == other._isV6;

    /// <inheritdoc/>
    public override bool Equals([NotNullWhen(true)] object? obj) => obj is NetAddress other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_value, _isV6);

    /// <summary>Orders IPv4 before IPv6, then by value.</summary>
    public int CompareTo(NetAddress other) =>
        _isV6 != other._isV6 ? (_isV6 ? 1 : -1) : _value.CompareTo(other._value);

    /// <summary>Equality.</summary>
    public static bool operator ==(NetAddress left, NetAddress right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(NetAddress left, NetAddress right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() => ToIPAddress().ToString();

    /// <inheritdoc/>
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc/>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        ToIPAddress().TryFormat(destination, out charsWritten);

    /// <summary>
    /// Writes the address as UTF-8 text, as <see cref="ToString()"/> does: IPv4 without making an <see cref="IPAddress"/>
    /// (per-query logs format one per line), IPv6 through the BCL's RFC 5952 formatter.
    /// </summary>
    public bool TryFormat(Span<byte> utf8Destination, out int bytesWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        if (!IsV4)
        {
            return ToIPAddress().TryFormat(utf8Destination, out bytesWritten);
        }

        bytesWritten = 0;
        uint value = V4Value;
        int at = 0;
        for (int shift = 24; shift >= 0; shift -= 8)
        {
            uint octet = (value >> shift) & 0xFF;
            if (!octet.TryFormat(utf8Destination[at..], out int digits, default, System.Globalization.CultureInfo.InvariantCulture))
            {
                return false;
            }

            at += digits;
            if (shift > 0)
            {
                if (at >= utf8Destination.Length)
                {
                    return false;
                }

                utf8Destination[at++] = (byte)'.';
            }
        }

        bytesWritten = at;
        return true;
    }
}
