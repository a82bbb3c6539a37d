namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// Reads block lists at load time: hosts files ("0.0.0.0 ads.example.test", "127.0.0.1 a b", "::1 x") and
/// plain domain lists (one name per line). '#' starts a comment; blank lines and the usual hosts-file
/// entries for the machine itself (localhost, broadcasthost, ip6-*) are skipped.
/// </summary>
internal static class BlockListReader
{
    /// <summary>The usual entries of a hosts file for the machine itself (not blocks); shared with the list subscriptions.</summary>
    internal static readonly HashSet<string> HostsNoise = new(StringComparer.Ordinal)
    {
        "localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost", "ip6-loopback",
        "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters", "ip6-allhosts", "0.0.0.0",
    };

    /// <summary>Reads the names of <paramref name="path"/>.</summary>
    /// <exception cref="FormatException">A line holds something that is not a name ("file:line: ...").</exception>
    public static List<string> Read(string path)
    {
        var names = new List<string>();
        int lineNumber = 0;
        foreach (string rawLine in File.ReadLines(path))
        {
            lineNumber++;
            ReadOnlySpan<char> line = rawLine;
            int hash = line.IndexOf('#');
            if (hash >= 0)
            {
                line = line[..hash];
            }

            line = line.Trim();
            if (line.IsEmpty)
            {
                continue;
            }

            // Hosts format: an address, then one or more names.
            bool first = true;
            bool hostsLine = false;
            foreach (Range range in line.SplitAny(" \t"))
            {
                ReadOnlySpan<char> token = line[range];
                if (token.IsEmpty)
                {
                    continue;
                }

                if (first)
                {
                    first = false;
                    if (token.Contains(':') || (token.Length > 0 && char.IsAsciiDigit(token[0]) && Sdk.Networking.NetAddress.TryParse(token, out _)))
                    {
                        hostsLine = true;
                        continue;
                    }
                }
                else if (!hostsLine)
                {
                    throw new FormatException($"{path}:{lineNumber}: expected one name per line or a hosts line (\"0.0.0.0 name\"), found '{line.ToString()}'");
                }

                if (token.EndsWith('.'))
                {
                    token = token[..^1];
                }

                string name = token.ToString().ToLowerInvariant();
                if (hostsLine && HostsNoise.Contains(name))
                {
                    continue;
                }

                if (!DnsNames.TryValidate(name, out string? problem))
                {
                    throw new FormatException($"{path}:{lineNumber}: '{token.ToString()}' is not a domain name: {problem}");
                }

                names.Add(name);
            }
        }

        return names;
    }
}
