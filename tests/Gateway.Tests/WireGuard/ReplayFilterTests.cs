using Gateway.Plugins.WireGuard.Replay;

namespace Gateway.Tests.WireGuard;

public sealed class ReplayFilterTests
{
    private const ulong Limit = ulong.MaxValue - (1UL << 13);

    [Fact]
    public void ValidateCounter_InOrderThenDuplicate_DuplicateRejected()
    {
        var filter = new ReplayFilter();
        for (ulong i = 0; i < 300; i++)
        {
            Assert.True(filter.ValidateCounter(i, Limit));
        }

        Assert.False(filter.ValidateCounter(0, Limit));
        Assert.False(filter.ValidateCounter(299, Limit));
    }

    [Fact]
    public void ValidateCounter_OutOfOrderInsideWindow_AcceptedOnce()
    {
        var filter = new ReplayFilter();
        Assert.True(filter.ValidateCounter(5000, Limit));
        Assert.True(filter.ValidateCounter(4000, Limit));
        Assert.True(filter.ValidateCounter(4999, Limit));
        Assert.False(filter.ValidateCounter(4000, Limit));
    }

    [Fact]
    public void ValidateCounter_WindowEdge_8128BehindAcceptedFurtherRejected()
    {
        Assert.Equal(8128, ReplayFilter.WindowSize);
        var filter = new ReplayFilter();
        Assert.True(filter.ValidateCounter(ReplayFilter.WindowSize + 1, Limit));
        Assert.True(filter.ValidateCounter(1, Limit));
        Assert.False(filter.ValidateCounter(0, Limit));
    }

    [Fact]
    public void ValidateCounter_BigJumpForward_OldBitsCleared()
    {
        var filter = new ReplayFilter();
        Assert.True(filter.ValidateCounter(10, Limit));
        Assert.True(filter.ValidateCounter(10 + (128 * 64), Limit));
        Assert.True(filter.ValidateCounter(10 + (128 * 64) + 64, Limit));
        Assert.False(filter.ValidateCounter(10 + (128 * 64), Limit));
    }

    [Fact]
    public void ValidateCounter_AtOrAboveLimit_Rejected()
    {
        var filter = new ReplayFilter();
        Assert.False(filter.ValidateCounter(Limit, Limit));
        Assert.True(filter.ValidateCounter(Limit - 1, Limit));
    }
}
