using Gateway.Sdk.Handlers;

namespace Gateway.Tests.Sdk.Relay;

public sealed class IdleDeadlineTests
{
    [Fact]
    public async Task Token_NoTouch_CancelledAfterTimeout()
    {
        using var deadline = new IdleDeadline(TimeSpan.FromMilliseconds(200));

        await Task.Delay(Timeout.Infinite, deadline.Token).ContinueWith(_ => { }).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(deadline.IsExpired);
    }

    [Fact]
    public async Task Touch_KeepsMovingTheDeadline_NotExpiredWhileActive()
    {
        using var deadline = new IdleDeadline(TimeSpan.FromMilliseconds(300));
        for (int i = 0; i < 10; i++)
        {
            await Task.Delay(100);
            deadline.Touch();
        }

        Assert.False(deadline.IsExpired);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task Token_ZeroOrInfinite_NeverCancelled(int milliseconds)
    {
        using var deadline = new IdleDeadline(TimeSpan.FromMilliseconds(milliseconds));

        await Task.Delay(300);

        Assert.False(deadline.IsExpired);
        Assert.Equal(Timeout.InfiniteTimeSpan, deadline.Timeout);
    }
}
