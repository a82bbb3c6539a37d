using System.Diagnostics;
using System.Numerics;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Security;

/// <summary>
/// A token bucket per client network (<c>rateLimit</c>): the address cut to <c>ipv4Prefix</c>/<c>ipv6Prefix</c>
/// bits, as BIND's and Knot's response rate limiting group clients. The buckets live in a fixed table
/// (<c>maxClients</c> slots, split into independently locked segments); a network not in the table takes a free
/// slot or, when its few candidate slots are all taken, the one seen longest ago — an idle bucket is full anyway,
/// so forgetting it changes nothing, and a flood from spoofed sources cannot grow memory.
/// </summary>
/// <remarks>
/// Our own table rather than System.Threading.RateLimiting's PartitionedRateLimiter: that one keeps a partition per
/// key in a dictionary that grows with every new source until an idle scan (so a spoofed flood grows it without
/// bound), and each acquire returns a lease object; here a check is a lock, a few multiplications and no
/// allocation (DnsBenchmarks.RateLimitOverLimit and AdmitAllowedClient: 0 B).
/// </remarks>
internal sealed class ClientRateLimiter
{
    private const int Probes = 8;
    private const byte EmptyKind = 0;

    private readonly Bucket[] _table;
    private readonly Lock[] _segments;
    private readonly int _segmentShift;
    private readonly int _segmentMask;
    private readonly double _tokensPerTick;
    private readonly double _burst;
    private readonly int _slip;
    private readonly ulong _v4Mask;
    private readonly ulong _v6Mask;

    /// <summary>Creates the limiter for enabled options (<see cref="RateLimitOptions.Qps"/> above 0).</summary>
    public ClientRateLimiter(RateLimitOptions options)
    {
        Options = options;
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(options.MaxClients, 64, 1 << 24));
        _table = new Bucket[size];
        int segments = Math.Min(64, size / Probes);
        _segments = new Lock[segments];
        for (int i = 0; i < segments; i++)
        {
            _segments[i] = new Lock();
        }

        _segmentShift = BitOperations.Log2((uint)(size / segments));
        _segmentMask = (size / segments) - 1;
        _tokensPerTick = (double)options.Qps / Stopwatch.Frequency;
        _burst = options.Burst > 0 ? options.Burst : options.Qps;
        _slip = options.Slip;
        _v4Mask = options.Ipv4Prefix == 0 ? 0 : uint.MaxValue << (32 - options.Ipv4Prefix) & uint.MaxValue;
        _v6Mask = options.Ipv6Prefix == 0 ? 0 : ulong.MaxValue << (64 - options.Ipv6Prefix);
    }

    /// <summary>The options it was built from (a reload keeps the limiter, and its buckets, when they are equal).</summary>
    public RateLimitOptions Options { get; }

    /// <summary>Table slots (for tests: memory is bounded by this).</summary>
    public int Capacity => _table.Length;

    /// <summary>
    /// Takes a token for one query from <paramref name="client"/>'s network at <paramref name="now"/>
    /// (<see cref="Stopwatch.GetTimestamp"/>): <see cref="AdmissionResult.Allow"/>, or over the limit
    /// <see cref="AdmissionResult.Truncate"/> every <c>slip</c>-th time and <see cref="AdmissionResult.Drop"/>
    /// otherwise for a datagram, <see cref="AdmissionResult.Limited"/> on a connection.
    /// </summary>
    public AdmissionResult Take(NetAddress client, bool datagram, long now)
    {
        byte kind = client.IsV4 ? (byte)4 : (byte)6;
        ulong prefix = client.IsV4 ? client.V4Value & _v4Mask : (ulong)(client.Value >> 64) & _v6Mask;
        ulong hash = (prefix ^ kind) * 0x9E3779B97F4A7C15UL;
        int segment = (int)(hash >> 58) % _segments.Length;
        int baseIndex = segment << _segmentShift;
        int start = (int)(hash >> 20) & _segmentMask;
        lock (_segments[segment])
        {
            int slot = -1;
            int oldest = -1;
            for (int i = 0; i < Probes; i++)
            {
                int index = baseIndex + ((start + i) & _segmentMask);
                ref Bucket candidate = ref _table[index];
                if (candidate.Kind == kind && candidate.Prefix == prefix)
                {
                    slot = index;
                    break;
                }

                if (candidate.Kind == EmptyKind)
                {
                    oldest = index;
                    break;
                }

                if (oldest < 0 || candidate.Last < _table[oldest].Last)
                {
                    oldest = index;
                }
            }

            ref Bucket bucket = ref _table[slot >= 0 ? slot : oldest];
            if (slot < 0)
            {
                bucket = new Bucket { Kind = kind, Prefix = prefix, Tokens = _burst, Last = now };
            }
            else if (now > bucket.Last)
            {
                bucket.Tokens = Math.Min(_burst, bucket.Tokens + ((now - bucket.Last) * _tokensPerTick));
                bucket.Last = now;
            }

            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return AdmissionResult.Allow;
            }

            if (!datagram)
            {
                return AdmissionResult.Limited;
            }

            bucket.Denied++;
            return _slip > 0 && bucket.Denied % _slip == 0 ? AdmissionResult.Truncate : AdmissionResult.Drop;
        }
    }

    private struct Bucket
    {
        public ulong Prefix;
        public long Last;
        public double Tokens;
        public uint Denied;
        public byte Kind;
    }
}
