using Gateway.Fuzz;

namespace Gateway.Tests.Fuzz;

/// <summary>
/// Every fuzz target on its seed corpus and on every crash input kept from a fuzz run, without AFL: the invariants
/// hold on real traffic, and each crash found once stays fixed (docs/fuzzing.md).
/// </summary>
public sealed class FuzzCorpusTests
{
    public static TheoryData<string> Targets()
    {
        var data = new TheoryData<string>();
        foreach (IFuzzTarget target in FuzzTargets.All)
        {
            data.Add(target.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Run_SeedCorpus_EveryInvariantHolds(string name)
    {
        string[] files = FuzzCorpus.Files("Corpus", name);
        Assert.True(files.Length >= 5, $"the {name} corpus has {files.Length} seeds; tests/Gateway.Fuzz/Seeds/capture.sh makes them");
        AssertAllPass(name, files);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Run_KeptCrashInputs_NoLongerFail(string name) => AssertAllPass(name, FuzzCorpus.Files("Crashes", name));

    private static void AssertAllPass(string name, string[] files)
    {
        IFuzzTarget target = FuzzTargets.Find(name)!;
        var failures = new List<string>();
        foreach (string file in files)
        {
            try
            {
                target.Run(File.ReadAllBytes(file));
            }
            catch (Exception ex)
            {
                failures.Add($"{Path.GetFileName(file)}: {ex.GetType().Name}: {ex.Message}");
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }
}
