using System.Text.Json;
using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.QueryLog;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Statistics;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.DnsDot.Filtering;

/// <summary>The query event queue and its sinks: statistics, the in-memory log and the log file.</summary>
public sealed class QueryVisibilityTests
{
    private static QueryEvent Event(string name, string client, bool blocked, string reason, byte[]? answer = null, double latencyMs = 1)
    {
        byte[] query = DnsTestMessages.Query(name, 1);
        answer ??= DnsTestMessages.Response(name, 1, blocked ? 3 : 0, blocked ? [] : [(1, 60, new byte[] { 10, 0, 0, 1 })]);
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        var entry = new QueryEvent
        {
            Record = new QueryRecord(NetAddress.Parse(client), DnsTransport.Udp, reason, blocked, false, null, blocked ? null : "127.0.0.1:853", now - (long)(latencyMs * System.Diagnostics.Stopwatch.Frequency / 1000), now),
        };
        entry.SetMessages(query, answer);
        return entry;
    }

    [Fact]
    public void Ring_Filters_NewestFirstByNameClientRcodeAndBlocked()
    {
        var ring = new QueryRing(capacity: 4);
        ring.OnEvent(Event("old.example.test", "10.0.0.1", false, "upstream"));
        ring.OnEvent(Event("a.example.test", "10.0.0.1", false, "upstream"));
        ring.OnEvent(Event("ads.example.test", "10.0.0.2", true, "list:ads"));
        ring.OnEvent(Event("b.example.test", "192.168.1.9", false, "cache"));
        ring.OnEvent(Event("c.other.test", "10.0.0.3", false, "upstream"));

        JsonElement all = JsonDocument.Parse(ring.Query(null, null, null, 100)).RootElement.GetProperty("entries");
        Assert.Equal(["c.other.test", "b.example.test", "ads.example.test", "a.example.test"], all.EnumerateArray().Select(e => e.GetProperty("name").GetString()));

        JsonElement blocked = JsonDocument.Parse(ring.Query(null, null, "blocked", 100)).RootElement.GetProperty("entries");
        JsonElement entry = Assert.Single(blocked.EnumerateArray());
        Assert.Equal("list:ads", entry.GetProperty("reason").GetString());
        Assert.Equal("NXDOMAIN", entry.GetProperty("rcode").GetString());
        Assert.True(entry.GetProperty("blocked").GetBoolean());

        Assert.Single(JsonDocument.Parse(ring.Query("EXAMPLE.test", IpPrefix.Parse("10.0.0.0/8"), "NOERROR", 100)).RootElement.GetProperty("entries").EnumerateArray());
        Assert.Single(JsonDocument.Parse(ring.Query(null, null, null, 1)).RootElement.GetProperty("entries").EnumerateArray());
    }

    [Fact]
    public void Statistics_CountsTopNamesClientsBlockedAndRatios()
    {
        var statistics = new QueryStatistics();
        for (int i = 0; i < 3; i++)
        {
            statistics.OnEvent(Event("popular.example.test", "10.0.0.1", false, "upstream", latencyMs: 2));
        }

        statistics.OnEvent(Event("ads.example.test", "10.0.0.2", true, "list:ads", latencyMs: 0.05));
        StatisticsView view = statistics.Snapshot();
        Assert.Equal(4, view.Total);
        Assert.Equal(4, view.LastMinute);
        Assert.Equal(0.25, view.BlockedRatio);
        Assert.Equal(new KeyValuePair<string, long>("popular.example.test", 3), view.TopNames[0]);
        Assert.Equal(new KeyValuePair<string, long>("10.0.0.1", 3), view.TopClients[0]);
        Assert.Equal(new KeyValuePair<string, long>("ads.example.test", 1), Assert.Single(view.TopBlocked));
        Assert.InRange(view.OneMinute.P50, 1.6, 2.4);
        Assert.Equal(QueryStatistics.Slots, view.Series.Count);
        Assert.Equal(4, view.Series[^1].Queries + view.Series[^2].Queries);
    }

    [Fact]
    public void Statistics_SameNameInAnyCase_OneTopNameInLowerCase()
    {
        var statistics = new QueryStatistics();
        statistics.OnEvent(Event("WWW.Example.TEST", "10.0.0.1", false, "upstream"));
        statistics.OnEvent(Event("www.example.test", "10.0.0.1", false, "cache"));
        statistics.OnEvent(Event("www.EXAMPLE.test", "10.0.0.1", true, "list:ads"));
        statistics.OnEvent(Event("other.test", "10.0.0.1", false, "upstream"));

        StatisticsView view = statistics.Snapshot();
        Assert.Equal(new KeyValuePair<string, long>("www.example.test", 3), view.TopNames[0]);
        Assert.Equal(new KeyValuePair<string, long>("other.test", 1), view.TopNames[1]);
        Assert.Equal(new KeyValuePair<string, long>("www.example.test", 1), Assert.Single(view.TopBlocked));
    }

    [Fact]
    public void Statistics_UnreadableQuestion_CountedWithoutAName()
    {
        var statistics = new QueryStatistics();
        byte[] query = DnsTestMessages.Query("a.test", 1);
        query[12] = 0xC0; // a compression pointer as the question's first label: no name (RFC 9267 §2)
        query[13] = 12;
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        var broken = new QueryEvent { Record = new QueryRecord(NetAddress.Parse("10.0.0.1"), DnsTransport.Udp, "rcode", false, false, null, null, now, now) };
        broken.SetMessages(query, query);
        statistics.OnEvent(broken);

        StatisticsView view = statistics.Snapshot();
        Assert.Equal(1, view.Total);
        Assert.Empty(view.TopNames);
        Assert.Equal(new KeyValuePair<string, long>("10.0.0.1", 1), Assert.Single(view.TopClients));
    }

    [Theory]
    [InlineData("ok")]
    [InlineData("root")]
    [InlineData("no-question")]
    [InlineData("label-64")]
    [InlineData("name-256")]
    [InlineData("name-255")]
    [InlineData("pointer")]
    [InlineData("truncated-name")]
    [InlineData("no-type")]
    [InlineData("header-only")]
    public void StatisticsKey_ReadableExactlyWhenTheQuestionTextIs(string shape)
    {
        byte[] message = shape switch
        {
            "ok" => DnsTestMessages.Query("a.example.test", 1),
            "root" => [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1],
            "no-question" => [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, (byte)'a', 0, 0, 1, 0, 1],
            "label-64" => [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 64, .. new byte[64], 0, 0, 1, 0, 1],
            // 4 labels of 63 bytes (256 bytes with their length bytes and the root): one past the limit; 3 of 63
            // plus one of 61 is exactly 255.
            "name-256" => [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, .. Labels(63, 63, 63, 63), 0, 0, 1, 0, 1],
            "name-255" => [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, .. Labels(63, 63, 63, 61), 0, 0, 1, 0, 1],
            "pointer" => [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1],
            "truncated-name" => [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, (byte)'a', (byte)'b'],
            "no-type" => [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, (byte)'a', 0, 0, 1, 0],
            _ => [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
        };

        Span<byte> text = stackalloc byte[Gateway.Plugins.DnsDot.Wire.DnsConstants.MaxPresentationLength];
        bool readable = MessageText.TryQuestion(message, text, out _, out _);
        Assert.Equal(shape is "ok" or "root" or "name-255", readable);
        Assert.Equal(readable, QueryStatistics.TryQuestionKey(message, out _));

        static byte[] Labels(params int[] lengths) => [.. lengths.SelectMany(n => (byte[])[(byte)n, .. Enumerable.Repeat((byte)'x', n)]), 0];
    }

    [Fact]
    public void StatisticsKey_SameNameInAnyCase_SameKey_OtherNameOtherKey()
    {
        Assert.True(QueryStatistics.TryQuestionKey(DnsTestMessages.Query("WWW.Example.TEST", 1), out ulong upper));
        Assert.True(QueryStatistics.TryQuestionKey(DnsTestMessages.Query("www.example.test", 28), out ulong lower));
        Assert.True(QueryStatistics.TryQuestionKey(DnsTestMessages.Query("www.example.tesu", 1), out ulong other));
        Assert.True(QueryStatistics.TryQuestionKey(DnsTestMessages.Query("www.exampletest", 1), out ulong joined));
        Assert.Equal(upper, lower);
        Assert.NotEqual(upper, other);
        Assert.NotEqual(upper, joined);
    }

    [Fact]
    public void Statistics_ManyDistinctNames_MemoryStaysBounded()
    {
        var statistics = new QueryStatistics();
        for (int i = 0; i < 3 * QueryStatistics.TopKeys; i++)
        {
            statistics.OnEvent(Event($"n{i}.example.test", "10.0.0.1", false, "upstream"));
        }

        statistics.OnEvent(Event("n1.example.test", "10.0.0.1", false, "upstream"));
        StatisticsView view = statistics.Snapshot();
        Assert.Equal(3 * QueryStatistics.TopKeys + 1, view.Total);
        Assert.Equal(20, view.TopNames.Count);
    }

    [Fact]
    public void Anonymize_ClientsCutToTheirNetwork()
    {
        Assert.Equal("192.168.1.0", Client("192.168.1.77", anonymize: true));
        Assert.Equal("2001:db8:1::", Client("2001:db8:1:2::7", anonymize: true));
        Assert.Equal("192.168.1.77", Client("192.168.1.77", anonymize: false));
        Assert.Equal("2001:db8:1:2:3:4:5:6", Client("2001:db8:1:2:3:4:5:6", anonymize: false));

        static string Client(string address, bool anonymize)
        {
            Span<byte> text = stackalloc byte[MessageText.MaxAddressBytes];
            return System.Text.Encoding.ASCII.GetString(text[..MessageText.ClientText(NetAddress.Parse(address), anonymize, text)]);
        }
    }

    [Fact]
    public void FormatTime_RandomInstants_SameAsDateTimeFormatting()
    {
        var random = new Random(16);
        Span<byte> written = stackalloc byte[QueryLogJson.TimeLength];
        for (int i = 0; i < 10_000; i++)
        {
            var utc = new DateTime(random.NextInt64(DateTime.MinValue.Ticks, DateTime.MaxValue.Ticks), DateTimeKind.Utc);
            QueryLogJson.FormatTime(utc, written);
            Assert.Equal(utc.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture), System.Text.Encoding.ASCII.GetString(written));
        }
    }

    [Fact]
    public void LogWriter_OneJsonLinePerQuery_RotatesAndKeeps()
    {
        string directory = Path.Combine(Path.GetTempPath(), "querylog-test-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        try
        {
            var writer = new QueryLogWriter(new QueryLogOptions { Path = "q.log", MaxSizeMB = 1, Keep = 2 }, directory, NullLogger.Instance);
            writer.OnEvent(Event("ads.example.test", "10.0.0.2", true, "list:ads"));
            writer.OnEvent(Event("a.example.test", "10.0.0.1", false, "upstream"));
            writer.OnBatchEnd();
            string[] lines = File.ReadAllLines(Path.Combine(directory, "q.log"));
            Assert.Equal(2, lines.Length);
            using JsonDocument first = JsonDocument.Parse(lines[0]);
            JsonElement root = first.RootElement;
            Assert.Equal("ads.example.test", root.GetProperty("name").GetString());
            Assert.Equal("A", root.GetProperty("type").GetString());
            Assert.Equal("NXDOMAIN", root.GetProperty("rcode").GetString());
            Assert.Equal("list:ads", root.GetProperty("reason").GetString());
            Assert.Equal("10.0.0.2", root.GetProperty("client").GetString());
            Assert.Equal("udp", root.GetProperty("transport").GetString());
            Assert.True(DateTime.TryParse(root.GetProperty("time").GetString(), out _));
            Assert.Equal(["A 10.0.0.1"], JsonDocument.Parse(lines[1]).RootElement.GetProperty("answers").EnumerateArray().Select(a => a.GetString()));

            // Past 1 MiB the file rotates; only two old files are kept.
            for (int i = 0; i < 30_000; i++)
            {
                writer.OnEvent(Event($"name{i}.example.test", "10.0.0.1", false, "upstream"));
                if (i % 1000 == 0)
                {
                    writer.OnBatchEnd();
                }
            }

            writer.Dispose();
            Assert.True(File.Exists(Path.Combine(directory, "q.log.1")));
            Assert.True(File.Exists(Path.Combine(directory, "q.log.2")));
            Assert.False(File.Exists(Path.Combine(directory, "q.log.3")));
            Assert.All(Directory.GetFiles(directory), f => Assert.True(new FileInfo(f).Length < 1.2 * 1024 * 1024));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void LogWriter_NamesAndTextsNeedingEscapes_ValidJsonWithTheSameText()
    {
        // Labels with a quote, a backslash, control bytes, non-ASCII bytes and a dot inside a label; presentation
        // form writes each as \DDD (RFC 1035 §5.1), whose backslashes JSON must escape in turn.
        byte[][] labels = ["a\"b"u8.ToArray(), "c\\d"u8.ToArray(), [0x01, (byte)'X', 0x0A], [0xC3, 0xA9], "e.f"u8.ToArray(), "test"u8.ToArray()];
        var name = new List<byte>();
        foreach (byte[] label in labels)
        {
            name.Add((byte)label.Length);
            name.AddRange(label);
        }

        name.Add(0);
        byte[] query = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, .. name, 0, 1, 0, 1];
        byte[] say = [.. "say \"hi\"\\"u8, 0x07, 0xE9, 0x7F];
        byte[] txt = [(byte)say.Length, .. say];
        byte[] answer = [.. query[..2], 0x81, 0x80, 0, 1, 0, 4, 0, 0, 0, 0, .. name, 0, 1, 0, 1,
            0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1,
            0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, (byte)txt.Length, .. txt,
            0xC0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            0xC0, 12, 0xFF, 0x00, 0, 1, 0, 0, 0, 60, 0, 3, 1, 2, 3];
        const string Reason = "rule:block \"x\" \\ \n\t\u0001\u001f\u007f é 😀 \ud800!";
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        var entry = new QueryEvent
        {
            Record = new QueryRecord(NetAddress.Parse("2001:db8::7"), DnsTransport.Tcp, Reason, false, false, "kids\\é", "up\"stream", now - System.Diagnostics.Stopwatch.Frequency / 400, now),
        };
        entry.SetMessages(query, answer);

        string directory = Path.Combine(Path.GetTempPath(), "querylog-test-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        try
        {
            using (var writer = new QueryLogWriter(new QueryLogOptions { Path = "q.log", MaxSizeMB = 1, Keep = 1 }, directory, NullLogger.Instance))
            {
                writer.OnEvent(entry);
                writer.OnEvent(entry);
            }

            byte[] file = File.ReadAllBytes(Path.Combine(directory, "q.log"));
            // Two identical lines: no raw line break inside an entry.
            int newline = Array.IndexOf(file, (byte)'\n');
            Assert.Equal(file.Length, 2 * (newline + 1));
            Assert.Equal(file[..newline], file[(newline + 1)..^1]);
            using JsonDocument document = JsonDocument.Parse(file.AsMemory(0, newline));
            JsonElement root = document.RootElement;
            Assert.Equal("a\\034b.c\\092d.\\001x\\010.\\195\\169.e\\046f.test", root.GetProperty("name").GetString());
            Assert.Equal("A", root.GetProperty("type").GetString());
            Assert.Equal("tcp", root.GetProperty("transport").GetString());
            Assert.Equal("2001:db8::7", root.GetProperty("client").GetString());
            Assert.Equal(
                ["A 10.0.0.1", "TXT \"say \\\"hi\\\"\\\\\\007\\233\\127\"", "AAAA 2001:db8::1", "TYPE65280 (3 bytes)"],
                root.GetProperty("answers").EnumerateArray().Select(a => a.GetString()));
            Assert.Equal(Reason.Replace("\ud800", "\ufffd", StringComparison.Ordinal), root.GetProperty("reason").GetString());
            Assert.Equal("up\"stream", root.GetProperty("upstream").GetString());
            Assert.Equal("kids\\é", root.GetProperty("group").GetString());
            Assert.Equal(2.5, root.GetProperty("latencyMs").GetDouble());
            Assert.False(root.GetProperty("blocked").GetBoolean());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void JsonLineWriter_EveryAsciiCharacter_EscapedAsTheRelaxedEncoderDoes()
    {
        var encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        for (int c = 0; c < 0x80; c++)
        {
            string text = $"a{(char)c}b";
            var output = new System.Buffers.ArrayBufferWriter<byte>();
            var json = new JsonLineWriter(output);
            json.Escaped(text.AsSpan());
            json.Escaped(System.Text.Encoding.ASCII.GetBytes(text));
            json.Complete();
            string expected = JsonEncodedText.Encode(text, encoder).Value;
            Assert.Equal(expected + expected, System.Text.Encoding.UTF8.GetString(output.WrittenSpan));
        }
    }

    [Fact]
    public void Queue_FullBuffer_DropsAndCountsWithoutBlocking()
    {
        var sink = new BlockingSink();
        using var queue = new QueryEventQueue(NullLogger.Instance, null, capacity: 16);
        queue.SetSinks([sink], wantsUpstream: false);
        byte[] query = DnsTestMessages.Query("a.test", 1);
        var record = new QueryRecord(NetAddress.Parse("10.0.0.1"), DnsTransport.Udp, "upstream", false, false, null, null, 0, 0);
        for (int i = 0; i < 1000; i++)
        {
            queue.OnAnswered(record, query, query);
        }

        Assert.True(queue.Dropped > 0);
        sink.Release.Set();
        queue.Flush(TimeSpan.FromSeconds(10));
        Assert.Equal(1000, queue.Dropped + queue.Processed);
    }

    [Fact]
    public void Queue_BatchLargerThanItsArena_EverySinkSeesEachEventsOwnMessages()
    {
        // 40 answers of ~40 KB: 1.6 MB, more than a batch's 1 MiB arena, so a batch holds events in the arena and
        // events in their own buffers; small ones in between. Each must reach the sink with its own bytes.
        var sink = new CopyingSink();
        using var queue = new QueryEventQueue(NullLogger.Instance, null);
        queue.SetSinks([sink], wantsUpstream: false);
        var expected = new List<(byte[] Query, byte[] Answer)>();
        for (int i = 0; i < 200; i++)
        {
            byte[] query = DnsTestMessages.Query($"q{i}.test", 1);
            byte[] answer = new byte[i % 5 == 0 ? 40_000 + i : 40 + i];
            new Random(i).NextBytes(answer);
            expected.Add((query, answer));
            queue.OnAnswered(new QueryRecord(NetAddress.Parse("10.0.0.1"), DnsTransport.Udp, "upstream", false, false, null, null, 0, 0), query, answer);
        }

        queue.Flush(TimeSpan.FromSeconds(10));
        Assert.Equal(0, queue.Dropped);
        Assert.Equal(expected.Count, sink.Seen.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Query, sink.Seen[i].Query);
            Assert.Equal(expected[i].Answer, sink.Seen[i].Answer);
        }
    }

    private sealed class CopyingSink : IQueryEventSink
    {
        public List<(byte[] Query, byte[] Answer)> Seen { get; } = [];

        public void OnEvent(QueryEvent queryEvent) => Seen.Add((queryEvent.Query.ToArray(), queryEvent.Answer.ToArray()));

        public void OnBatchEnd()
        {
        }
    }

    private sealed class BlockingSink : IQueryEventSink
    {
        public ManualResetEventSlim Release { get; } = new(false);

        public void OnEvent(QueryEvent queryEvent) => Release.Wait(TimeSpan.FromSeconds(10));

        public void OnBatchEnd()
        {
        }
    }

    [Fact]
    public void Ring_HugeAnswers_EntriesCutToTheFirstRecordsAndMemoryBounded()
    {
        // 200 TXT records of 250 bytes: a ~52 KB answer, the kind a client can ask for over TCP again and again.
        var records = Enumerable.Range(0, 200).Select(i => ((ushort)16, 60u, (byte[])[249, .. System.Text.Encoding.ASCII.GetBytes($"r{i:000}".PadRight(249, 'x'))])).ToArray();
        byte[] huge = DnsTestMessages.Response("big.test", 16, 0, records);
        Assert.True(huge.Length > 50_000);
        var ring = new QueryRing(capacity: 100);
        QueryEvent queued = Event("big.test", "10.0.0.1", false, "upstream", huge);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            ring.OnEvent(queued);
        }

        // Whole copies would take 100 x 52 KB; cut, an entry is a 1 KiB buffer and its slot object.
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 100 * 1536);
        JsonElement entry = JsonDocument.Parse(ring.Query("big.test", null, "NOERROR", 1)).RootElement.GetProperty("entries")[0];
        Assert.Equal("big.test", entry.GetProperty("name").GetString());
        string[] answers = entry.GetProperty("answers").EnumerateArray().Select(a => a.GetString()!).ToArray();
        Assert.InRange(answers.Length, 1, 3);
        Assert.StartsWith("TXT \"r000", answers[0]);
    }

    [Fact]
    public void Queue_HugeMessage_SlotLetsGoOfItsBufferAfterTheBatch()
    {
        var slot = new QueryEvent();
        slot.SetMessages(new byte[100], new byte[60_000]);
        slot.Shrink(2048);
        Assert.Equal(0, slot.Answer.Length);
        slot.SetMessages(new byte[100], new byte[300]);
        slot.Shrink(2048);
        Assert.Equal(300, slot.Answer.Length);
    }

    [Fact]
    public void MessageText_AnswerRecords_ShortText()
    {
        byte[] response = DnsTestMessages.Response("x.test", 15, 0, [(15, 60, [0, 10, 4, (byte)'m', (byte)'a', (byte)'i', (byte)'l', 0xC0, 12]), (16, 60, [2, (byte)'h', (byte)'i'])]);
        Assert.Equal(["MX 10 mail.x.test", "TXT \"hi\""], MessageText.Answers(response));
        Assert.Equal("x.test", MessageText.QuestionName(response, out ushort type));
        Assert.Equal(15, type);
        Assert.Equal("NOERROR", MessageText.Rcode(response));
    }
}
