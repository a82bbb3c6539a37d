using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Gateway.Sdk.Networking;

/// <summary>An address prefix in CIDR form ("10.99.0.0/24", "fd99::/64"), normalized to its network address.</summary>
public readonly struct IpPrefix : IEquatable<IpPrefix>
{
    /// <summary>Creates a prefix; host bits of <paramref name="address"/> are cleared.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The length exceeds the address size.</exception>
    public IpPrefix(NetAddress address, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, address.BitLength);
        Length = length;
        Network = address.IsV6 ? NetAddress.FromV6(address.Value & Mask(length, 128)) : NetAddress.FromV4((uint)(address.Value & Mask(length, 32)));
    }

    /// <summary>The network address (host bits zero).</summary>
    public NetAddress Network { get; }

    /// <summary>The prefix length in bits.</summary>
    public int Length { get; }

    /// <summary>True when <paramref name="address"/> is of the same family and inside this prefix.</summary>
    public bool Contains(NetAddress address) =>
        address.IsV6 == Network.IsV6 &&
        (address.Value & Mask(Length, Network.BitLength)) == Network.Value;

    /// <summary>
    /// Parses "10.0.0.0/24" or "fd00::/64"; a bare address is a host prefix (/32 or /128).
    /// "10.0.0.1/24" is accepted and normalized to 10.0.0.0/24.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out IpPrefix prefix)
    {
        prefix = default;
        text = text.Trim();
        int slash = text.IndexOf('/');
        ReadOnlySpan<char> addressText = slash < 0 ? text : text[..slash];
        if (!NetAddress.TryParse(addressText, out NetAddress address) || addressText.Contains('%'))
        {
            return false;
        }

        int length = address.BitLength;
        if (slash >= 0 &&
            (!int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > address.BitLength))
        {
            return false;
        }

        prefix = new IpPrefix(address, length);
        return true;
    }

    /// <summary>Parses "10.0.0.0/24" or "fd00::/64".</summary>
    /// <exception cref="FormatException">The text is not a CIDR prefix.</exception>
    public static IpPrefix Parse(string text) =>
        TryParse(text, out IpPrefix prefix) ? prefix : throw new FormatException($"'{text}' is not a CIDR prefix such as 10.0.0.0/24");

    /// <summary>The mask of the first <paramref name="length"/> bits of a <paramref name="bits"/>-bit address, right-aligned.</summary>
    private static UInt128 Mask(int length, int bits)
    {
        if (length == 0)
        {
            return UInt128.Zero;
        }

        UInt128 all = bits == 128 ? UInt128.MaxValue : ((UInt128)1 << bits) - 1;
        return all & ~((((UInt128)1) << (bits - length)) - 1);
    }

    /// <inheritdoc/>
    public bool Equals(IpPrefix other) => Length == other.Length && Network.Equals(other.Network);

    /// <inheritdoc/>
    public override bool Equals([NotNullWhen(true)] object? obj) => obj is IpPrefix other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Network, Length);

    /// <summary>Equality.</summary>
    public static bool operator ==(IpPrefix left, IpPrefix right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(IpPrefix left, IpPrefix right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() => $"{Network}/{Length}";
}
