using System.Buffers.Binary;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.QueryLog;
using Gateway.Plugins.DnsDot.Resolver;

namespace Gateway.Tests.DnsDot.Filtering;

/// <summary>Lists, clients, blocking modes, pauses and records through <see cref="DnsResolver.Begin"/>: the answers a client gets.</summary>
public sealed class FilteringResolverTests
{
    private static DnsDotOptions Options(string blockingMode = "nxdomain", params string[] blockingIps) => new()
    {
        BlockingMode = blockingMode,
        BlockingIps = [.. blockingIps],
        Lists =
        [
            new ListOptions { Name = "ads", File = "ads.txt", Format = "adblock" },
            new ListOptions { Name = "adult", File = "adult.txt", Format = "domains" },
            new ListOptions { Name = "mine", File = "mine.txt", Format = "domains", Kind = "allow" },
        ],
        Clients = new Dictionary<string, ClientGroupOptions>
        {
            ["kids"] = new() { Networks = ["192.168.1.64/27"], Lists = ["adult"], Upstream = "filtered" },
            ["servers"] = new() { Networks = ["192.168.1.0/24"], Blocking = false },
        },
        Records = ["nas.home.test 300 A 192.168.1.10"],
    };

    private static readonly Dictionary<string, string> Files = new()
    {
        ["ads.txt"] = "||ads.example.test^\n||ok.example.test^\n",
        ["adult.txt"] = "adult.example.test\n",
        ["mine.txt"] = "ok.example.test\n",
    };

    private static int Rcode(byte[] answer) => answer[3] & 0xF;

    private static int AnswerCount(byte[] answer) => BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(6));

    [Fact]
    public async Task Begin_NameOnBlockList_NxDomainWithSoaAndBlockedEde()
    {
        using FilteringHarness harness = await FilteringHarness.CreateAsync(Options(), Files);
        (ResolveStep step, byte[] answer, PendingQuery pending) = harness.Run(DnsTestMessages.Query("x.ads.example.test", 1));
        Assert.Equal(ResolveStep.Answered, step);
        Assert.Equal(3, Rcode(answer));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(8)));
        Assert.Equal("list:ads", pending.Reason);
        Assert.True(pending.Blocked);

        // RFC 8914: option 15, INFO-CODE 15 (Blocked), extra text = the reason.
        byte[] ede = [0, 15, 0, (byte)(2 + "list:ads".Length), 0, 15, .. "list:ads"u8.ToArray()];
        Assert.True(answer.AsSpan().IndexOf(ede) > 0);
        Assert.Equal(1, harness.Lists.Find("ads")!.Hits);
    }

    [Fact]
    public async Task Begin_BlockedWithoutEdns_NoOptAtAll()
    {
        using FilteringHarness harness = await FilteringHarness.CreateAsync(Options(), Files);
        (_, byte[] answer, _) = harness.Run(DnsTestMessages.Query("ads.example.test", 1, edns: false));
        Assert.Equal(3, Rcode(answer));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(10)));
    }

    [Fact]
    public async Task Begin_AllowListEntry_BeatsBlockFromAnotherList()
    {
        using FilteringHarness harness = await FilteringHarness.CreateAsync(Options(), Files);
        (ResolveStep step, _, PendingQuery pending) = harness.Run(DnsTestMessages.Query("www.ok.example.test", 1));
        Assert.Equal(ResolveStep.Upstream, step);
        Assert.Equal("list:mine", pending.Reason);
        Assert.False(pending.Blocked);
    }

    [Theory]
    [InlineData("nullIp", 1, new byte[] { 0, 0, 0, 0 })]
    [InlineData("nullIp", 28, new byte[] { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 })]
    [InlineData("customIp", 1, new byte[] { 192, 0, 2, 99 })]
    public async Task Begin_AddressBlockingModes_AnswerWithAddressAndBlockedTtl(string mode, int type, byte[] address)
    {
        using FilteringHarness harness = await FilteringHarness.CreateAsync(Options(mode, "192.0.2.99", "2001:db8::99"), Files);
        (_, byte[] answer, _) = harness.Run(DnsTestMessages.Query("ads.example.test", (ushort)type));
        Assert.Equal(0, Rcode(answer));
        Assert.Equal(1, AnswerCount(answer));
        Assert.True(answer.AsSpan().IndexOf(new byte[] { 0, 0, 0, 60, 0, (byte)address.Length }.Concat(address).ToArray()) > 0);
    }

    [Fact]
    public async Task Begin_NullIpForTxt_NoData()
    {
        using FilteringHarness harness = await FilteringHarness.CreateAsync(Options("nullIp"), Files);
        (_, byte[] answer, _) = harness.Run(DnsTestMessages.Query("ads.example.test", 16));
        Assert.Equal(0, Rcode(answer));
        Assert.Equal(0, AnswerCount(answer));
    }

    [Fact]
    public async Task Begin_RefusedMode_Refused()
    {
        using FilteringHarness harness = await FilteringHarness.CreateAsync(Options("refused"), Files);
        Assert.Equal(5, Rcode(harness.Run(DnsTestMessages.Query("ads.example.test", 1)).Answer));
    }

    [Fact]
    public async Task Begin_ClientGroupWithOwnLists_OnlyItsListsAndItsUpstreamGroup()
    {
        using FilteringHarness harness = await FilteringHarness.CreateAsync(Options(), Files);

        // A kid: "adult" applies, "ads" does not, and forwarding goes to the kids' upstream group.
        Assert.Equal(3, Rcode(harness.Run(DnsTestMessages.Query("adult.example.test", 1), "192.168.1.70").Answer));
        (ResolveStep step, _, PendingQuery pending) = harness.Run(DnsTestMessages.Query("ads.example.test", 1), "192.168.1.70");
        Assert.Equal(ResolveStep.Upstream, step);
        Assert.Same(harness.Filtered, pending.Group);
        Assert.Equal("kids", pending.ClientGroup);

        // A client in no group gets every list.
        Assert.Equal(3, Rcode(harness.Run(DnsTestMessages.Query("adult.example.test", 1), "10.9.9.9").Answer));
        Assert.Equal(3, Rcode(harness.Run(DnsTestMessages.Query("ads.example.test", 1), "10.9.9.9").Answer));
    }

    [Fact]
    public async Task Begin_GroupWithBlockingOff_ResolvesBlockedNames()
    {
        using FilteringHarness harness = await FilteringHarness.CreateAsync(Options(), Files);
        (ResolveStep step, _, PendingQuery pending) = harness.Run(DnsTestMessages.Query("ads.example.test", 1), "192.168.1.5");
        Assert.Equal(ResolveStep.Upstream, step);
        Assert.False(pending.Blocked);
    }

    [Fact]
    public async Task Begin_BlockingPaused_ResolvesThenBlocksAgainAfterResume()
    {
        using FilteringHarness harness = await FilteringHarness.CreateAsync(Options(), Files);
        harness.Pause.Pause(TimeSpan.FromMinutes(5), null);
        (ResolveStep step, _, PendingQuery pending) = harness.Run(DnsTestMessages.Query("ads.example.test", 1));
        Assert.Equal(ResolveStep.Upstream, step);
        Assert.Equal("blocking-paused", pending.Reason);

        harness.Pause.Pause(TimeSpan.Zero, null);
        Assert.Equal(3, Rcode(harness.Run(DnsTestMessages.Query("ads.example.test", 1)).Answer));
    }

    [Fact]
    public async Task Begin_PauseRunsOut_BlockedAgainWithoutAnyCall()
    {
        using FilteringHarness harness = await FilteringHarness.CreateAsync(Options(), Files);
        harness.Pause.Pause(TimeSpan.FromMinutes(5), null);
        harness.Now += TimeSpan.FromMinutes(4.9);
        Assert.Equal(ResolveStep.Upstream, harness.Run(DnsTestMessages.Query("ads.example.test", 1)).Step);

        harness.Now += TimeSpan.FromMinutes(0.2);

        Assert.Equal(3, Rcode(harness.Run(DnsTestMessages.Query("ads.example.test", 1)).Answer));
        Assert.Null(harness.Pause.PausedUntil);
    }

    [Fact]
    public async Task Begin_PauseForOneGroup_OtherClientsStillBlocked()
    {
        using FilteringHarness harness = await FilteringHarness.CreateAsync(Options(), Files);
        harness.Pause.Pause(TimeSpan.FromMinutes(5), "kids");
        Assert.Equal(ResolveStep.Upstream, harness.Run(DnsTestMessages.Query("adult.example.test", 1), "192.168.1.70").Step);
        Assert.Equal(3, Rcode(harness.Run(DnsTestMessages.Query("adult.example.test", 1), "10.9.9.9").Answer));
    }

    [Fact]
    public async Task Begin_LocalRecord_AuthoritativeAnswerReasonRecord()
    {
        using FilteringHarness harness = await FilteringHarness.CreateAsync(Options(), Files);
        (ResolveStep step, byte[] answer, PendingQuery pending) = harness.Run(DnsTestMessages.Query("NAS.home.test", 1));
        Assert.Equal(ResolveStep.Answered, step);
        Assert.Equal("record", pending.Reason);
        Assert.NotEqual(0, answer[2] & 0x04);
        Assert.Equal(["A 192.168.1.10"], MessageText.Answers(answer));
    }
}
