namespace Gateway.Plugins.HttpProxy.Auth;

/// <summary>
/// Reads htpasswd lines (<c>user:hash</c>) and accepts bcrypt hashes only (<c>$2y$</c>, <c>$2b$</c>, <c>$2a$</c> — what
/// <c>htpasswd -B</c> writes). Every other kind Apache's htpasswd can write is refused with its line number: plain
/// text, crypt(3), MD5 (<c>$apr1$</c>), SHA-1 (<c>{SHA}</c>) — they are fast to brute-force from a leaked file.
/// </summary>
internal static class HtpasswdParser
{
    /// <summary>Adds each line's user and hash to <paramref name="users"/>; returns the first problem as "line N: ...", or null.</summary>
    /// <param name="lines">The file's lines (or the config's <c>users</c> entries).</param>
    /// <param name="what">"line" for a file, "entry" for config entries (numbering from 1 either way).</param>
    public static string? Parse(IEnumerable<string> lines, Dictionary<string, string> users, string what = "line")
    {
        int number = 0;
        foreach (string raw in lines)
        {
            number++;
            string line = raw.TrimEnd('\r').Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                return $"{what} {number}: expected user:hash (htpasswd -B file user)";
            }

            string user = line[..colon];
            string hash = line[(colon + 1)..];
            if (user.Length > 255 || user.AsSpan().IndexOfAny(" \t") >= 0)
            {
                return $"{what} {number}: the user name must be 1-255 characters without spaces (RFC 1929 limit)";
            }

            if (!IsBcrypt(hash))
            {
                return $"{what} {number}: user '{user}' has a {Kind(hash)} entry; only bcrypt hashes are accepted (htpasswd -B)";
            }

            if (!users.TryAdd(user, hash))
            {
                return $"{what} {number}: user '{user}' is listed twice";
            }
        }

        return null;
    }

    /// <summary>$2a$/$2b$/$2y$, a two-digit cost 4-31, then 53 characters of salt and hash (60 in all).</summary>
    public static bool IsBcrypt(string hash) =>
        hash.Length == 60 && hash[0] == '$' && hash[1] == '2' && hash[2] is 'a' or 'b' or 'y' && hash[3] == '$'
        && char.IsAsciiDigit(hash[4]) && char.IsAsciiDigit(hash[5]) && hash[6] == '$'
        && int.Parse(hash.AsSpan(4, 2), System.Globalization.CultureInfo.InvariantCulture) is >= 4 and <= 31;

    private static string Kind(string hash) => hash switch
    {
        _ when hash.StartsWith("$apr1$", StringComparison.Ordinal) || hash.StartsWith("$1$", StringComparison.Ordinal) => "MD5",
        _ when hash.StartsWith("{SHA}", StringComparison.Ordinal) => "SHA-1",
        _ when hash.StartsWith("$5$", StringComparison.Ordinal) || hash.StartsWith("$6$", StringComparison.Ordinal) => "SHA-crypt",
        _ when hash.StartsWith("$2", StringComparison.Ordinal) => "malformed bcrypt",
        { Length: 13 } => "crypt(3) or plain-text",
        _ => "plain-text",
    };
}
