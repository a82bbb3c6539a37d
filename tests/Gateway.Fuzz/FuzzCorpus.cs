namespace Gateway.Fuzz;

/// <summary>Where the seeds (Corpus/TARGET) and the kept crash inputs (Crashes/TARGET) of the fuzz targets are in the repository.</summary>
public static class FuzzCorpus
{
    /// <summary>The inputs kept under tests/Gateway.Fuzz/<paramref name="kind"/>/<paramref name="target"/>, in name order; none when absent.</summary>
    public static string[] Files(string kind, string target)
    {
        string folder = Path.Combine(RepositoryRoot(), "tests", "Gateway.Fuzz", kind, target);
        return Directory.Exists(folder) ? Directory.GetFiles(folder).Order(StringComparer.Ordinal).ToArray() : [];
    }

    /// <summary>The folder holding Gateway.sln, above the running assembly.</summary>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("Gateway.sln not found above " + AppContext.BaseDirectory);
    }
}
