namespace Gateway.EndToEnd.Admin;

/// <summary>A host.admin.tokenFile for tests: the token on its first line, mode 0600 (FileTrust refuses anything looser).</summary>
public static class AdminToken
{
    public static async Task<string> WriteAsync(string folder, string token)
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, "admin.token");
        await File.WriteAllTextAsync(path, token + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return path;
    }
}
