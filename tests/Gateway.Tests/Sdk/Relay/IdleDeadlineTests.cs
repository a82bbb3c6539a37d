using Gateway.Sdk.Handlers;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Tests.Sdk.Relay;

/// <summary>On a fake clock: the deadline is whole-connection (any Touch moves it), exact, and absent for 0 or infinite.</summary>
public sealed class IdleDeadlineTests
{
    [Fact]
    public void Token_NoTouchForTheTimeout_Cancelled()
    {
        var clock = new FakeTimeProvider();
        using var deadline = new IdleDeadline(TimeSpan.FromSeconds(10), clock);

        clock.Advance(TimeSpan.FromSeconds(9.9));
        Assert.False(deadline.IsExpired);
        clock.Advance(TimeSpan.FromSeconds(0.1));

        Assert.True(deadline.IsExpired);
        Assert.True(deadline.Token.IsCancellationRequested);
    }

    [Fact]
    public void Touch_EveryFewSeconds_NeverExpiresThoughFarLongerThanTheTimeout()
    {
        var clock = new FakeTimeProvider();
        using var deadline = new IdleDeadline(TimeSpan.FromSeconds(10), clock);

        for (int i = 0; i < 100; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(7));
            deadline.Touch();
        }

        Assert.False(deadline.IsExpired);
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True(deadline.IsExpired);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Token_ZeroOrInfinite_NeverCancelled(int milliseconds)
    {
        var clock = new FakeTimeProvider();
        using var deadline = new IdleDeadline(TimeSpan.FromMilliseconds(milliseconds), clock);

        clock.Advance(TimeSpan.FromDays(2));

        Assert.False(deadline.IsExpired);
        Assert.Equal(Timeout.InfiniteTimeSpan, deadline.Timeout);
    }
}
