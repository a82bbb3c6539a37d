using System.Buffers.Binary;

namespace Gateway.Plugins.WireGuard.Crypto;

/// <summary>TAI64N timestamps (whitepaper §5.1; cr.yp.to/libtai/tai64.html): 8 bytes seconds + 2^62, 4 bytes nanoseconds, big-endian.</summary>
internal static class Tai64N
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 12;

    private const ulong Base = 0x400000000000000aUL;

    /// <summary>
    /// Writes the timestamp of <paramref name="now"/>. The nanoseconds are rounded down to a multiple of 2^24
    /// (about 16 ms) as wireguard-go does, so the timestamp does not leak a precise clock reading.
    /// </summary>
    public static void Write(DateTimeOffset now, Span<byte> destination)
    {
        long unixNanos = (now.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
        ulong seconds = (ulong)(unixNanos / 1_000_000_000);
        uint nanos = (uint)(unixNanos % 1_000_000_000) & ~0xFFFFFFu;
        BinaryPrimitives.WriteUInt64BigEndian(destination, Base + seconds);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], nanos);
    }

    /// <summary>True when <paramref name="a"/> is strictly later than <paramref name="b"/> (byte-wise big-endian compare).</summary>
    public static bool After(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a[..Size].SequenceCompareTo(b[..Size]) > 0;
}
