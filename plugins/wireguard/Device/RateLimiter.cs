using Gateway.Sdk.Networking;

namespace Gateway.Plugins.WireGuard.Device;

/// <summary>
/// Per-source token bucket for handshake messages while under load (wireguard-go's ratelimiter: 20 per second,
/// bursts of 5; IPv6 sources are grouped by /64 so one host cannot dodge it by changing addresses).
/// </summary>
internal sealed class RateLimiter
{
    private const int PacketsPerSecond = 20;
    private const int PacketsBurstable = 5;
    private const int MaxEntries = 65536;

    private readonly TimeProvider _time;
    private readonly long _packetCost;
    private readonly long _maxTokens;
    private readonly Dictionary<UInt128, Bucket> _buckets = new();
    private readonly Lock _lock = new();
    private long _lastSweep;

    /// <summary>Creates the limiter.</summary>
    public RateLimiter(TimeProvider time)
    {
        _time = time;
        _packetCost = time.TimestampFrequency / PacketsPerSecond;
        _maxTokens = _packetCost * PacketsBurstable;
        _lastSweep = time.GetTimestamp();
    }

    /// <summary>True when a handshake message from <paramref name="source"/> may be processed now.</summary>
    public bool Allow(NetAddress source)
    {
        UInt128 key = source.IsV6 ? (source.Value >> 64) | ((UInt128)1 << 127) : source.Value;
        long now = _time.GetTimestamp();
        lock (_lock)
        {
            if (now - _lastSweep > _time.TimestampFrequency)
            {
                Sweep(now);
            }

            if (!_buckets.TryGetValue(key, out Bucket bucket))
            {
                if (_buckets.Count >= MaxEntries)
                {
                    return false;
                }

                _buckets[key] = new Bucket(now, _maxTokens - _packetCost);
                return true;
            }

            long tokens = Math.Min(_maxTokens, bucket.Tokens + (now - bucket.Last));
            if (tokens < _packetCost)
            {
                _buckets[key] = new Bucket(now, tokens);
                return false;
            }

            _buckets[key] = new Bucket(now, tokens - _packetCost);
            return true;
        }
    }

    private void Sweep(long now)
    {
        _lastSweep = now;
        List<UInt128>? stale = null;
        foreach (KeyValuePair<UInt128, Bucket> entry in _buckets)
        {
            if (now - entry.Value.Last > _time.TimestampFrequency)
            {
                (stale ??= new List<UInt128>()).Add(entry.Key);
            }
        }

        if (stale is not null)
        {
            foreach (UInt128 key in stale)
            {
                _buckets.Remove(key);
            }
        }
    }

    private readonly record struct Bucket(long Last, long Tokens);
}
