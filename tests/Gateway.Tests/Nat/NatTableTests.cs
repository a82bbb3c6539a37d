using Gateway.Host.Nat;
using Gateway.Host.Networking;
using Gateway.Host.Routing;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Packets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Nat;

public sealed class NatTableTests
{
    private static readonly NetEndpoint Virtual = NetEndpoint.Parse("10.30.30.30:7");
    private static readonly StreamBinding SharedBinding = Binding();

    [Fact]
    public void Create_ManySessions_UniquePortsAndFindableBothWays()
    {
        var table = new NatTable();
        var ports = new HashSet<ushort>();
        for (int i = 0; i < 5000; i++)
        {
            // Ten ports each from 500 sources: below the per-source cap.
            var client = new NetEndpoint(NetAddress.FromV4(0x0A000000u + (uint)(i / 10)), (ushort)(20000 + i));
            NatEntry entry = Create(table, client)!;
            Assert.True(ports.Add(entry.NatPort), $"port {entry.NatPort} allocated twice");
            Assert.Same(entry, table.Find(client, Virtual));
            Assert.Same(entry, table.FindByPort(false, entry.NatPort));
            Assert.Same(entry, table.FindByKernelPeer(new NetEndpoint(Virtual.Address, entry.NatPort)));
        }

        Assert.Equal(5000, table.Count);
    }

    [Fact]
    public void FindByKernelPeer_SamePortOfAnotherVirtualIp_NotThisSession()
    {
        var table = new NatTable();
        NatEntry entry = Create(table, NetEndpoint.Parse("10.0.0.1:40000"))!;

        Assert.Null(table.FindByKernelPeer(new NetEndpoint(NetAddress.Parse("10.30.30.31"), entry.NatPort)));
        Assert.Same(entry, table.FindByKernelPeer(new NetEndpoint(Virtual.Address, entry.NatPort)));
    }

    [Fact]
    public void Sweep_ClosedSessionAfterDeadline_RemovedAndPortFreed()
    {
        var table = new NatTable();
        var client = NetEndpoint.Parse("10.30.30.1:40000");
        NatEntry entry = Create(table, client)!;
        table.Observe(entry, fromClient: true, TcpFlags.Ack);
        table.Observe(entry, fromClient: true, TcpFlags.Rst);
        Assert.Equal(NatState.Closed, entry.State);
        Assert.Equal(0, table.LiveSessionsOf(client.Address));

        Assert.Equal(0, table.Sweep(Environment.TickCount64));
        Assert.Equal(1, table.Sweep(Environment.TickCount64 + (long)TimeSpan.FromMinutes(2).TotalMilliseconds));
        Assert.Null(table.Find(client, Virtual));
        Assert.Null(table.FindByPort(false, entry.NatPort));
    }

    [Fact]
    public void Observe_FinBothWays_ClosedAndEstablishedOnHandshakeAck()
    {
        var table = new NatTable();
        NatEntry entry = Create(table, NetEndpoint.Parse("10.30.30.1:40000"))!;
        table.Observe(entry, fromClient: true, TcpFlags.Ack);
        Assert.Equal(NatState.Established, entry.State);
        table.Observe(entry, fromClient: true, TcpFlags.Fin | TcpFlags.Ack);
        Assert.Equal(NatState.HalfClosed, entry.State);
        table.Observe(entry, fromClient: false, TcpFlags.Fin | TcpFlags.Ack);
        Assert.Equal(NatState.Closed, entry.State);
    }

    [Fact]
    public void Create_SynFloodFromOneSource_HeldToItsCapByRecyclingItsOwnHalfOpenSessions()
    {
        var table = new NatTable(NatLimits.Default with { MaxPerSource = 100 });
        var flooder = NetAddress.Parse("10.0.0.66");
        NatEntry victimOfOther = Create(table, NetEndpoint.Parse("10.0.0.7:40000"))!;
        var first = new List<NatEntry>();
        int evictions = 0;
        for (int i = 0; i < 1000; i++)
        {
            NatEntry? entry = table.Create(new NetEndpoint(flooder, (ushort)(10000 + i)), Virtual, SharedBinding, null, (uint)i, out NatRefusal refusal, out NatEntry? evicted);
            Assert.NotNull(entry);
            Assert.Equal(NatRefusal.None, refusal);
            if (i < 100)
            {
                first.Add(entry);
                Assert.Null(evicted);
            }
            else
            {
                // Each SYN past the cap costs the flooder its own oldest handshake, never someone else's session.
                Assert.NotNull(evicted);
                Assert.Equal(flooder, evicted.Client.Address);
                Assert.Equal(10000 + i - 100, evicted.Client.Port);
                Assert.True(evicted.Removed);
                evictions++;
            }
        }

        Assert.Equal(100, table.LiveSessionsOf(flooder));
        Assert.Equal(101, table.Count);
        Assert.Equal(900, evictions);
        Assert.Equal(900, table.EvictedForSource);
        Assert.All(first, e => Assert.Null(table.Find(e.Client, Virtual)));
        Assert.Same(victimOfOther, table.Find(NetEndpoint.Parse("10.0.0.7:40000"), Virtual));
        Assert.NotNull(Create(table, NetEndpoint.Parse("10.0.0.8:40000")));
    }

    [Fact]
    public void Create_SourceAtCapWithOnlyEstablishedSessions_RefusedWhileOthersServed()
    {
        var table = new NatTable(NatLimits.Default with { MaxPerSource = 10 });
        for (int i = 0; i < 10; i++)
        {
            NatEntry entry = Create(table, new NetEndpoint(NetAddress.Parse("10.0.0.66"), (ushort)(10000 + i)))!;
            table.Observe(entry, fromClient: true, TcpFlags.Ack);
        }

        Assert.Null(table.Create(NetEndpoint.Parse("10.0.0.66:20000"), Virtual, SharedBinding, null, 0, out NatRefusal refusal, out NatEntry? evicted));
        Assert.Equal(NatRefusal.SourceLimit, refusal);
        Assert.Null(evicted);
        Assert.NotNull(Create(table, NetEndpoint.Parse("10.0.0.67:20000")));
    }

    [Fact]
    public void Create_Ipv6SourcesOfOneSlash64_ShareOneCap()
    {
        var table = new NatTable(NatLimits.Default with { MaxPerSource = 5 });
        var v6Virtual = NetEndpoint.Parse("[fd00::30]:7");
        for (int i = 0; i < 5; i++)
        {
            // A different address of the same /64 for every SYN: still one source.
            Assert.NotNull(table.Create(new NetEndpoint(NetAddress.Parse($"fd00:66::{i + 1:x}"), 40000), v6Virtual, SharedBinding, null, 0, out _, out _));
        }

        table.Create(NetEndpoint.Parse("[fd00:66::99]:40000"), v6Virtual, SharedBinding, null, 0, out _, out NatEntry? evicted);
        Assert.NotNull(evicted);
        Assert.Equal(5, table.LiveSessionsOf(NetAddress.Parse("fd00:66::1234")));
        Assert.Equal(0, table.LiveSessionsOf(NetAddress.Parse("fd00:67::1")));
    }

    [Fact]
    public void Create_FamilyFull_DropsClosedThenHalfOpenButNeverEstablished()
    {
        var table = new NatTable(NatLimits.Default with { MaxSessions = 9 });
        var established = new List<NatEntry>();
        for (int i = 0; i < 3; i++)
        {
            NatEntry e = Create(table, new NetEndpoint(NetAddress.Parse("10.0.0.1"), (ushort)(1000 + i)))!;
            table.Observe(e, fromClient: true, TcpFlags.Ack);
            established.Add(e);
            NatEntry c = Create(table, new NetEndpoint(NetAddress.Parse("10.0.0.2"), (ushort)(1000 + i)))!;
            table.Observe(c, fromClient: true, TcpFlags.Rst);
            Create(table, new NetEndpoint(NetAddress.Parse("10.0.0.3"), (ushort)(1000 + i)));
        }

        Assert.Equal(9, table.Count);
        var kinds = new List<NatState?>();
        for (int i = 0; i < 6; i++)
        {
            NatEntry? entry = table.Create(new NetEndpoint(NetAddress.Parse("10.0.0.4"), (ushort)(1000 + i)), Virtual, SharedBinding, null, 0, out NatRefusal refusal, out NatEntry? evicted);
            Assert.NotNull(entry);
            Assert.Equal(NatRefusal.None, refusal);

            // A closed victim needs no reset (null); a half-open one is handed back to be reset on the kernel side.
            kinds.Add(evicted?.State);
            table.Observe(entry, fromClient: true, TcpFlags.Ack);
        }

        Assert.Equal([null, null, null, NatState.Opening, NatState.Opening, NatState.Opening], kinds);
        Assert.Equal(6, table.EvictedForRoom);
        Assert.Null(table.Create(NetEndpoint.Parse("10.0.0.5:1000"), Virtual, SharedBinding, null, 0, out NatRefusal full, out _));
        Assert.Equal(NatRefusal.Exhausted, full);
        Assert.All(established, e => Assert.Same(e, table.Find(e.Client, Virtual)));
    }

    [Fact]
    public void Create_EveryPortOfTheFamilyTaken_HalfOpenOfAFlooderMakesRoomForANewSource()
    {
        // Sixteen sources at the default cap of 4096 hold all 64,512 IPv4 NAT ports with handshakes they never finish.
        var table = new NatTable();
        for (int i = 0; i < NatLimits.PortCount; i++)
        {
            Assert.NotNull(Create(table, new NetEndpoint(NetAddress.FromV4(0x0A420000u + (uint)(i / 4096)), (ushort)(1024 + (i % 4096)))));
        }

        NatEntry? entry = table.Create(NetEndpoint.Parse("192.168.1.5:40000"), Virtual, SharedBinding, null, 0, out _, out NatEntry? evicted);
        Assert.NotNull(entry);
        Assert.NotNull(evicted);
        Assert.Equal(NatLimits.PortCount, table.Count);
    }

    [Fact]
    public void Observe_KernelRetransmitsSynAck_DoesNotKeepAHalfOpenSessionAlive()
    {
        var table = new NatTable(NatLimits.Default with { HalfOpenTimeout = TimeSpan.FromSeconds(5) });
        NatEntry entry = Create(table, NetEndpoint.Parse("10.0.0.66:40000"))!;
        long deadline = entry.Deadline;
        Thread.Sleep(20);
        table.Observe(entry, fromClient: false, TcpFlags.Syn | TcpFlags.Ack);
        Assert.Equal(deadline, entry.Deadline);

        var halfOpen = new List<NatEntry>();
        Assert.Equal(0, table.Sweep(deadline - 1, halfOpen));
        Assert.Equal(1, table.Sweep(deadline + 1, halfOpen));
        Assert.Same(entry, Assert.Single(halfOpen));
        Assert.Equal(1, table.ExpiredHalfOpen);
        Assert.Equal(0, table.LiveSessionsOf(entry.Client.Address));
    }

    [Fact]
    public void Create_NewSynOnEstablishedTuple_OldSessionClosedAndNotCountedTwice()
    {
        var table = new NatTable(NatLimits.Default with { MaxPerSource = 1 });
        var client = NetEndpoint.Parse("10.0.0.66:40000");
        NatEntry old = Create(table, client)!;
        table.Observe(old, fromClient: true, TcpFlags.Ack);

        NatEntry renewed = Create(table, client)!;
        Assert.NotSame(old, renewed);
        Assert.Same(renewed, table.Find(client, Virtual));
        Assert.Equal(1, table.LiveSessionsOf(client.Address));
        Assert.Equal(NatState.Closed, old.State);
        Assert.Same(old, table.FindByPort(false, old.NatPort));
    }

    private static NatEntry? Create(NatTable table, NetEndpoint client) =>
        table.Create(client, Virtual, SharedBinding, null, 0, out _, out _);

    private static StreamBinding Binding()
    {
        using var meter = new System.Diagnostics.Metrics.Meter("Gateway.Host.Tests.Nat");
        return new StreamBinding(Virtual, new NoopHandler(), new PluginHandlerGuard("t", NullLogger.Instance, meter));
    }

    private sealed class NoopHandler : IStreamHandler
    {
        public Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
