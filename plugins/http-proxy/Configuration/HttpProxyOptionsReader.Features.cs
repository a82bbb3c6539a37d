using Gateway.Plugins.HttpProxy.Auth;
using Gateway.Plugins.HttpProxy.Logging;
using Microsoft.Extensions.Configuration;

namespace Gateway.Plugins.HttpProxy.Configuration;

/// <summary>The <c>auth:</c> and <c>accessLog:</c> maps.</summary>
internal static partial class HttpProxyOptionsReader
{
    private static readonly HashSet<string> s_authKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "realm", "usersFile", "users", "failuresBeforeDelay", "failureDelayMilliseconds",
    };

    private static readonly HashSet<string> s_accessLogKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "path", "format", "maxSizeMB", "keep",
    };

    private static ProxyAuthOptions ReadAuth(IConfigurationSection section, List<(string, string)> errors)
    {
        ProxyAuthOptions defaults = new();
        if (!IsMap(section, "auth", "auth: { usersFile: users.htpasswd }", s_authKeys, errors))
        {
            return defaults;
        }

        List<(string Key, string Message)> local = [];
        string realm = section["realm"] ?? defaults.Realm;
        if (realm.Length is 0 or > 100 || realm.AsSpan().IndexOfAny("\"\\\r\n") >= 0)
        {
            local.Add(("realm", $"'{realm}' must be 1-100 characters without quotes, backslashes or line breaks"));
        }

        string? usersFile = section["usersFile"];
        if (usersFile is { Length: 0 })
        {
            local.Add(("usersFile", "must be a path"));
            usersFile = null;
        }

        IReadOnlyList<string> users = ReadList(section, "users", defaults.Users, local, "an htpasswd line with a bcrypt hash (user:$2y$...)", static (text, into) =>
        {
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !HtpasswdParser.IsBcrypt(text[(colon + 1)..]))
            {
                return false;
            }

            into.Add(text);
            return true;
        });
        var options = new ProxyAuthOptions
        {
            Realm = realm,
            UsersFile = usersFile,
            Users = users,
            FailuresBeforeDelay = ReadInt(section, "failuresBeforeDelay", defaults.FailuresBeforeDelay, 1, 1000, local),
            FailureDelay = TimeSpan.FromMilliseconds(ReadInt(section, "failureDelayMilliseconds", (int)defaults.FailureDelay.TotalMilliseconds, 0, 60_000, local)),
        };
        if (!options.Enabled)
        {
            local.Add(("usersFile", "auth needs usersFile or users (or remove the auth map)"));
        }

        errors.AddRange(local.Select(e => ($"auth:{e.Key}", e.Message)));
        return options;
    }

    private static AccessLogOptions ReadAccessLog(IConfigurationSection section, List<(string, string)> errors)
    {
        AccessLogOptions defaults = new();
        if (!IsMap(section, "accessLog", "accessLog: { path: access.log, format: squid }", s_accessLogKeys, errors))
        {
            return defaults;
        }

        List<(string Key, string Message)> local = [];
        string? path = section["path"];
        if (string.IsNullOrWhiteSpace(path))
        {
            local.Add(("path", "the access log needs a path"));
            path = null;
        }

        AccessLogFormat format = defaults.Format;
        if (section["format"] is { } formatText && !Enum.TryParse(formatText, ignoreCase: true, out format) || !Enum.IsDefined(format))
        {
            local.Add(("format", $"'{section["format"]}' must be squid, combined or json"));
            format = defaults.Format;
        }

        var options = new AccessLogOptions
        {
            Path = path,
            Format = format,
            MaxSizeBytes = ReadInt(section, "maxSizeMB", (int)(defaults.MaxSizeBytes >> 20), 1, 100_000, local) * 1024L * 1024,
            Keep = ReadInt(section, "keep", defaults.Keep, 0, 100, local),
        };
        errors.AddRange(local.Select(e => ($"accessLog:{e.Key}", e.Message)));
        return options;
    }

    /// <summary>False when the key is absent (defaults apply) or is not a map (an error is added).</summary>
    private static bool IsMap(IConfigurationSection section, string key, string example, HashSet<string> known, List<(string, string)> errors)
    {
        if (!section.Exists())
        {
            return false;
        }

        if (section.Value is { Length: > 0 } scalar)
        {
            errors.Add((key, $"'{scalar}' is not a map: write {example}"));
            return false;
        }

        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (!known.Contains(child.Key))
            {
                errors.Add(($"{key}:{child.Key}", $"unknown key '{child.Key}' (known: {string.Join(", ", known)})"));
            }
        }

        return true;
    }
}
