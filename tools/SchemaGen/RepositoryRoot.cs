namespace Gateway.SchemaGen;

/// <summary>Finds the repository (the folder holding Gateway.sln).</summary>
internal static class RepositoryRoot
{
    public static string? Find(string start)
    {
        for (string? dir = Path.GetFullPath(start); dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "Gateway.sln")))
            {
                return dir;
            }
        }

        return null;
    }
}
