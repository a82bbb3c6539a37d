using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Gateway.Plugins.DnsDot.Lists;

namespace Gateway.Benchmarks;

/// <summary>
/// Issue 16: loading a 1,000,000-entry adblock list (parse and build the matcher) in ≤ 3 s of CPU, with ≤ 100 B of
/// managed memory kept per entry. Loading is single-threaded, so its wall time is its CPU time. The retained size
/// (the matcher alone, after a full collection) is printed by the setup as "retained: N B/entry".
/// Run: dotnet run -c Release --project tests/Gateway.Benchmarks -- --filter '*ListLoadBenchmarks*'.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3)]
public class ListLoadBenchmarks
{
    private string _file = "";

    /// <summary>Writes "||host{i}.blocked{i % 997}.test^" lines (names of typical length, ~27 bytes).</summary>
    public static void WriteAdblockList(string path, int entries)
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine("! Title: benchmark list");
        for (int i = 0; i < entries; i++)
        {
            writer.Write("||host");
            writer.Write(i);
            writer.Write(".blocked");
            writer.Write(i % 997);
            writer.WriteLine(".test^");
        }
    }

    /// <summary>The managed bytes a matcher of <paramref name="file"/> keeps, per entry.</summary>
    public static double RetainedBytesPerEntry(string file, out int entries)
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        long before = GC.GetTotalMemory(forceFullCollection: true);
        ListMatcher matcher = Load(file);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        long after = GC.GetTotalMemory(forceFullCollection: true);
        entries = matcher.Count;
        GC.KeepAlive(matcher);
        return (double)(after - before) / entries;
    }

    [GlobalSetup]
    public void Setup()
    {
        _file = Path.Combine(Path.GetTempPath(), $"gateway-list-load-{Environment.ProcessId}.txt");
        WriteAdblockList(_file, FilteringBenchmarks.Entries);
        double perEntry = RetainedBytesPerEntry(_file, out int entries);
        Console.WriteLine($"// retained: {perEntry:0.0} B/entry ({entries} entries)");
    }

    [GlobalCleanup]
    public void Cleanup() => File.Delete(_file);

    [Benchmark]
    public int Load1M() => Load(_file).Count;

    private static ListMatcher Load(string file)
    {
        var parser = new ListParser(ListFormat.Adblock, allowList: false);
        using (var reader = new StreamReader(file))
        {
            parser.Read(reader);
        }

        return parser.Build();
    }
}
