using System.Diagnostics;
using Gateway.Plugins.DnsDot.LoadBalancing;

namespace Gateway.Tests.DnsDot;

public sealed class LoadBalancingPolicyTests
{
    private sealed class FakeUpstream(string name) : IBalancedUpstream
    {
        public string Name { get; } = name;

        public UpstreamHealth Health { get; } = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(8));

        public int Outstanding { get; set; }

        public double LatencyMs { get; set; }

        public long HistoricalConnections { get; set; }

        public override string ToString() => Name;
    }

    private static readonly long Now = Stopwatch.GetTimestamp();

    private static FakeUpstream[] Three() => [new("a"), new("b"), new("c")];

    [Fact]
    public void RoundRobin_ThreeUpstreams_EachInTurn()
    {
        FakeUpstream[] u = Three();
        var policy = new RoundRobinPolicy();
        var picked = new List<IBalancedUpstream?>();
        for (int i = 0; i < 9; i++)
        {
            picked.Add(policy.Pick(u, null, Now));
        }

        // Whichever comes first, the next is always the one after it in configured order: a b c a b c …
        int first = Array.IndexOf(u, (FakeUpstream)picked[0]!);
        for (int i = 0; i < picked.Count; i++)
        {
            Assert.Same(u[(first + i) % 3], picked[i]);
        }
    }

    [Fact]
    public void RoundRobin_OneExcluded_TurnSkipsItOnly()
    {
        FakeUpstream[] u = Three();
        u[1].Health.ReportFailure(Now);
        var policy = new RoundRobinPolicy();
        var picked = new List<IBalancedUpstream?>();
        for (int i = 0; i < 6; i++)
        {
            picked.Add(policy.Pick(u, null, Now));
        }

        Assert.DoesNotContain(u[1], picked);
        Assert.Contains(u[0], picked);
        Assert.Contains(u[2], picked);
    }

    [Fact]
    public void Failover_FirstExcluded_SecondChosen()
    {
        FakeUpstream[] u = Three();
        u[0].Health.ReportFailure(Now);
        Assert.Same(u[1], new FailoverPolicy().Pick(u, null, Now));
        Assert.Same(u[0], new FailoverPolicy().Pick(u, null, Now + (Stopwatch.Frequency * 2)));
    }

    [Fact]
    public void Health_ConsecutiveFailures_ExclusionDoublesThenRecovers()
    {
        var health = new UpstreamHealth(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(8));
        health.ReportFailure(Now);
        Assert.False(health.IsAvailable(Now + (Stopwatch.Frequency / 2)));
        Assert.True(health.IsAvailable(Now + (Stopwatch.Frequency * 1)));
        health.ReportFailure(Now);
        Assert.False(health.IsAvailable(Now + (Stopwatch.Frequency * 3 / 2)));
        Assert.True(health.IsAvailable(Now + (Stopwatch.Frequency * 2)));
        for (int i = 0; i < 10; i++)
        {
            health.ReportFailure(Now);
        }

        Assert.True(health.IsAvailable(Now + (Stopwatch.Frequency * 8)));
        health.ReportSuccess();
        Assert.True(health.IsAvailable(Now));
    }

    [Fact]
    public void HistoricalConnections_FewestConnectionsChosen()
    {
        FakeUpstream[] u = Three();
        u[0].HistoricalConnections = 5;
        u[1].HistoricalConnections = 2;
        u[2].HistoricalConnections = 9;
        Assert.Same(u[1], new HistoricalConnectionsPolicy().Pick(u, null, Now));
    }

    [Fact]
    public void Availability_AllExcluded_TriesLeastFailed()
    {
        FakeUpstream[] u = Three();
        u[0].Health.ReportFailure(Now);
        u[0].Health.ReportFailure(Now);
        u[1].Health.ReportFailure(Now);
        u[2].Health.ReportFailure(Now);
        u[2].Health.ReportFailure(Now);
        Assert.Same(u[1], new AvailabilityPolicy().Pick(u, null, Now));
    }

    [Fact]
    public void Random_ExcludedOne_NeverChosen()
    {
        FakeUpstream[] u = Three();
        var policy = new RandomPolicy();
        for (int i = 0; i < 200; i++)
        {
            Assert.NotSame(u[2], policy.Pick(u, u[2], Now));
        }
    }

    [Fact]
    public void LeastOutstanding_SlowAndBusyAvoided()
    {
        FakeUpstream fast = new("fast") { LatencyMs = 1, Outstanding = 0 };
        FakeUpstream slow = new("slow") { LatencyMs = 50, Outstanding = 10 };
        var policy = new LeastOutstandingPolicy();
        for (int i = 0; i < 50; i++)
        {
            Assert.Same(fast, policy.Pick([fast, slow], null, Now));
        }
    }

    [Fact]
    public void Create_UnknownName_Null()
    {
        Assert.Null(LoadBalancingPolicies.Create("fastest"));
        foreach (string name in LoadBalancingPolicies.Names)
        {
            Assert.Equal(name, LoadBalancingPolicies.Create(name)!.Name);
        }
    }
}
