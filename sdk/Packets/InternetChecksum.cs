using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Gateway.Sdk.Networking;

namespace Gateway.Sdk.Packets;

/// <summary>
/// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum, used by
/// IPv4, ICMP, UDP and TCP; pseudo-header sums for UDP/TCP/ICMPv6 (RFC 768, RFC 9293 §3.1, RFC 8200 §8.1);
/// and incremental update after rewriting a field (RFC 1624).
/// </summary>
/// <remarks>
/// Sums are kept unfolded in a 64-bit accumulator (so many spans can be added before folding) and are
/// byte-order independent (RFC 1071 §2(B)): the result is written back in network order.
/// </remarks>
public static class InternetChecksum
{
    /// <summary>Adds the bytes of <paramref name="data"/> (as big-endian 16-bit words, odd length padded with zero) to <paramref name="sum"/>.</summary>
    public static ulong Add(ulong sum, ReadOnlySpan<byte> data)
    {
        // RFC 1071 §2(B): the one's complement sum is byte-order independent, so the words are summed as they lie in
        // memory (little-endian here) and the folded result is byte-swapped once at the end, instead of swapping
        // every word. 32-bit words go into 64-bit lanes (Vector256, else scalar), so carries never overflow for
        // any span length (2^31 bytes need fewer than 2^29 additions of values below 2^32 per lane).
        ref byte start = ref MemoryMarshal.GetReference(data);
        int length = data.Length;
        int i = 0;
        ulong acc = 0;
        if (Vector256.IsHardwareAccelerated && length >= 64)
        {
            Vector256<ulong> low = Vector256<ulong>.Zero;
            Vector256<ulong> high = Vector256<ulong>.Zero;
            Vector256<ulong> mask = Vector256.Create(0xFFFFFFFFUL);
            for (; i + 64 <= length; i += 64)
            {
                Vector256<ulong> a = Vector256.LoadUnsafe(ref Unsafe.Add(ref start, i)).AsUInt64();
                Vector256<ulong> b = Vector256.LoadUnsafe(ref Unsafe.Add(ref start, i + 32)).AsUInt64();
                low += (a & mask) + (b & mask);
                high += (a >> 32) + (b >> 32);
            }

            acc = Vector256.Sum(low) + Vector256.Sum(high);
        }

        for (; i + 16 <= length; i += 16)
        {
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i));
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i + 4));
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i + 8));
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i + 12));
        }

        for (; i + 4 <= length; i += 4)
        {
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i));
        }

        for (; i + 2 <= length; i += 2)
        {
            acc += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, i));
        }

        if (i < length)
        {
            // A trailing byte is the high byte of a big-endian word padded with zero.
            acc += BitConverter.IsLittleEndian ? data[i] : (uint)data[i] << 8;
        }

        ushort folded = Fold(acc);
        return sum + (BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(folded) : folded);
    }

    /// <summary>Adds a 16-bit value to <paramref name="sum"/>.</summary>
    public static ulong Add(ulong sum, ushort value) => sum + value;

    /// <summary>Folds a sum to 16 bits (end-around carry) without complementing it.</summary>
    public static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFFFFFF) + (sum >> 32);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    /// <summary>The checksum of a sum: the one's complement of its folded value.</summary>
    public static ushort Finish(ulong sum) => (ushort)~Fold(sum);

    /// <summary>The checksum of <paramref name="data"/> (as stored in a header whose checksum field was zero).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => Finish(Add(0, data));

    /// <summary>True when <paramref name="data"/>, including its checksum field, sums to 0xFFFF (RFC 1071 §1(3)).</summary>
    public static bool IsValid(ReadOnlySpan<byte> data) => Fold(Add(0, data)) == 0xFFFF;

    /// <summary>
    /// The sum of the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1): source, destination, zero, protocol and
    /// the transport length (header plus payload).
    /// </summary>
    public static ulong PseudoHeaderV4(uint source, uint destination, byte protocol, int transportLength) =>
        (ulong)(source >> 16) + (source & 0xFFFF) + (destination >> 16) + (destination & 0xFFFF) + protocol + (uint)transportLength;

    /// <summary>The IPv4 pseudo-header sum read from an IPv4 header's source and destination fields.</summary>
    public static ulong PseudoHeaderV4(ReadOnlySpan<byte> ipv4Header, byte protocol, int transportLength) =>
        PseudoHeaderV4(BinaryPrimitives.ReadUInt32BigEndian(ipv4Header[12..]), BinaryPrimitives.ReadUInt32BigEndian(ipv4Header[16..]), protocol, transportLength);

    /// <summary>
    /// The sum of the IPv6 pseudo-header (RFC 8200 §8.1): source, destination, upper-layer packet length and
    /// next header. <paramref name="source"/> and <paramref name="destination"/> are 16 bytes each.
    /// </summary>
    public static ulong PseudoHeaderV6(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, byte protocol, int transportLength)
    {
        ulong sum = Add(0, source[..16]);
        sum = Add(sum, destination[..16]);
        return sum + (uint)(transportLength >> 16) + (uint)(transportLength & 0xFFFF) + protocol;
    }

    /// <summary>The pseudo-header sum for the addresses of a packet's IP header (v4 or v6).</summary>
    public static ulong PseudoHeader(NetAddress source, NetAddress destination, byte protocol, int transportLength)
    {
        if (source.IsV4)
        {
            return PseudoHeaderV4(source.V4Value, destination.V4Value, protocol, transportLength);
        }

        Span<byte> buffer = stackalloc byte[32];
        source.WriteTo(buffer);
        destination.WriteTo(buffer[16..]);
        return PseudoHeaderV6(buffer, buffer[16..], protocol, transportLength);
    }

    /// <summary>
    /// RFC 1624 §3 (eqn. 3): the new checksum after a 16-bit field covered by <paramref name="checksum"/>
    /// changed from <paramref name="oldValue"/> to <paramref name="newValue"/>: HC' = ~(~HC + ~m + m').
    /// </summary>
    public static ushort Update(ushort checksum, ushort oldValue, ushort newValue)
    {
        ulong sum = (ushort)~checksum + (ulong)(ushort)~oldValue + newValue;
        return (ushort)~Fold(sum);
    }

    /// <summary>RFC 1624 update for a 32-bit field (an IPv4 address) that changed.</summary>
    public static ushort Update(ushort checksum, uint oldValue, uint newValue)
    {
        ulong sum = (ushort)~checksum
            + (ulong)(ushort)~(oldValue >> 16) + (ushort)~(oldValue & 0xFFFF)
            + (newValue >> 16) + (newValue & 0xFFFF);
        return (ushort)~Fold(sum);
    }

    /// <summary>
    /// RFC 1624 update for a field of even length (an IPv6 address, for example) that changed from
    /// <paramref name="oldBytes"/> to <paramref name="newBytes"/> (same length, 16-bit aligned in the checksummed data).
    /// </summary>
    public static ushort Update(ushort checksum, ReadOnlySpan<byte> oldBytes, ReadOnlySpan<byte> newBytes)
    {
        // ~m summed word by word equals the complement of the folded sum of m (one's complement arithmetic).
        ulong sum = (ushort)~checksum + (ulong)(ushort)~Fold(Add(0, oldBytes)) + Fold(Add(0, newBytes));
        return (ushort)~Fold(sum);
    }
}
