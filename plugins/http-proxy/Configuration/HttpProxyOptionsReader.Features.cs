using Gateway.Plugins.HttpProxy.Auth;
using Gateway.Plugins.HttpProxy.Logging;
using Gateway.Sdk.Configuration;

namespace Gateway.Plugins.HttpProxy.Configuration;

/// <summary>The <c>auth:</c> and <c>accessLog:</c> maps.</summary>
internal static partial class HttpProxyOptionsReader
{
    private static ProxyAuthOptions ReadAuth(SectionReader reader)
    {
        ProxyAuthOptions defaults = new();
        if (!reader.Has("auth"))
        {
            return defaults;
        }

        SectionReader auth = reader.Map("auth");
        string realm = auth.String("realm", defaults.Realm)!;
        if (realm.Length is 0 or > 100 || realm.AsSpan().IndexOfAny("\"\\\r\n") >= 0)
        {
            auth.Error("realm", $"'{realm}' must be 1-100 characters without quotes, backslashes or line breaks");
            realm = defaults.Realm;
        }

        List<string> users = [];
        IReadOnlyList<string> lines = auth.Strings("users");
        for (int i = 0; i < lines.Count; i++)
        {
            string text = lines[i];
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !HtpasswdParser.IsBcrypt(text[(colon + 1)..]))
            {
                auth.Error($"users:{i}", "expected an htpasswd line with a bcrypt hash (user:$2y$...)");
                continue;
            }

            users.Add(text);
        }

        var options = new ProxyAuthOptions
        {
            Realm = realm,
            UsersFile = auth.String("usersFile"),
            Users = users.Count > 0 ? users : defaults.Users,
            FailuresBeforeDelay = auth.Int("failuresBeforeDelay", defaults.FailuresBeforeDelay, 1, 1000),
            FailureDelay = TimeSpan.FromMilliseconds(auth.Int("failureDelayMilliseconds", (int)defaults.FailureDelay.TotalMilliseconds, 0, 60_000)),
        };
        if (!options.Enabled && lines.Count == 0)
        {
            auth.Error("usersFile", "auth needs usersFile or users (or remove the auth map)");
        }

        return options;
    }

    private static AccessLogOptions ReadAccessLog(SectionReader reader)
    {
        AccessLogOptions defaults = new();
        if (!reader.Has("accessLog"))
        {
            return defaults;
        }

        SectionReader log = reader.Map("accessLog");
        string? path = log.String("path");
        if (string.IsNullOrWhiteSpace(path))
        {
            log.Error("path", "the access log needs a path");
            path = null;
        }

        string formatText = log.OneOf("format", defaults.Format.ToString().ToLowerInvariant(), "squid", "combined", "json");
        return new AccessLogOptions
        {
            Path = path,
            Format = Enum.Parse<AccessLogFormat>(formatText, ignoreCase: true),
            MaxSizeBytes = log.Int("maxSizeMB", (int)(defaults.MaxSizeBytes >> 20), 1, 100_000) * 1024L * 1024,
            Keep = log.Int("keep", defaults.Keep, 0, 100),
        };
    }
}
