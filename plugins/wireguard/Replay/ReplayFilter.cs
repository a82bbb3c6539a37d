namespace Gateway.Plugins.WireGuard.Replay;

/// <summary>
/// The sliding window of received data-message counters (RFC 6479's bitmap ring, as wireguard-go's replay
/// package): 128 blocks of 64 bits, of which one is always being recycled, so the window is 127 × 64 = 8128 counters.
/// </summary>
/// <remarks>Not thread-safe: the caller holds the keypair's receive lock.</remarks>
internal sealed class ReplayFilter
{
    /// <summary>How far behind the greatest counter seen a counter may be and still be accepted.</summary>
    public const int WindowSize = (RingBlocks - 1) * BlockBits;

    private const int BlockBitLog = 6;
    private const int BlockBits = 1 << BlockBitLog;
    private const int RingBlocks = 1 << 7;
    private const int BlockMask = RingBlocks - 1;
    private const int BitMask = BlockBits - 1;

    private readonly ulong[] _ring = new ulong[RingBlocks];
    private ulong _last;

    /// <summary>Forgets every counter.</summary>
    public void Reset()
    {
        _last = 0;
        Array.Clear(_ring);
    }

    /// <summary>
    /// True (and records it) when <paramref name="counter"/> is below <paramref name="limit"/>, not older than the
    /// window and not seen before; false for a replay or a counter too old to judge.
    /// </summary>
    public bool ValidateCounter(ulong counter, ulong limit)
    {
        if (counter >= limit)
        {
            return false;
        }

        ulong indexBlock = counter >> BlockBitLog;
        if (counter > _last)
        {
            ulong current = _last >> BlockBitLog;
            ulong diff = indexBlock - current;
            if (diff > RingBlocks)
            {
                diff = RingBlocks;
            }

            for (ulong i = current + 1; i <= current + diff; i++)
            {
                _ring[(int)(i & BlockMask)] = 0;
            }

            _last = counter;
        }
        else if (_last - counter > WindowSize)
        {
            return false;
        }

        int block = (int)(indexBlock & BlockMask);
        ulong bit = 1UL << (int)(counter & BitMask);
        ulong old = _ring[block];
        _ring[block] = old | bit;
        return (old & bit) == 0;
    }
}
