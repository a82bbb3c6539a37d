using Gateway.Plugins.HttpProxy.Parents;

namespace Gateway.Tests.HttpProxy.Parents;

public sealed class ParentHealthTests
{
    private long _now = 1_000_000;

    [Fact]
    public void Failed_Repeatedly_BackOffDoublesFromTenSecondsUpToFiveMinutes()
    {
        var health = new ParentHealth(() => _now);
        List<double> backOffs = [];

        for (int i = 0; i < 7; i++)
        {
            TimeSpan backOff = health.Failed();
            backOffs.Add(backOff.TotalSeconds);
            Assert.False(health.IsLive);
            _now += (long)backOff.TotalMilliseconds - 1;
            Assert.False(health.IsLive);
            _now += 1;
            Assert.True(health.IsLive);
        }

        Assert.Equal([10, 20, 40, 80, 160, 300, 300], backOffs);
    }

    [Fact]
    public void Failed_WhileAlreadyDown_CountsOnce()
    {
        var health = new ParentHealth(() => _now);

        health.Failed();
        _now += 5_000;
        TimeSpan second = health.Failed();

        Assert.Equal(TimeSpan.FromSeconds(10), second);
        _now += 5_000;
        Assert.True(health.IsLive);
    }

    [Fact]
    public void Succeeded_AfterDown_ResetsBackOffAndReportsTheRecovery()
    {
        var health = new ParentHealth(() => _now);
        health.Failed();
        _now += 10_000;
        health.Failed();
        _now += 20_000;

        Assert.True(health.Succeeded());
        Assert.False(health.Succeeded());
        Assert.True(health.IsLive);
        Assert.Equal(TimeSpan.FromSeconds(10), health.Failed());
    }
}
