using System.Security.Cryptography;
using Gateway.Plugins.DnsDot.Server.Tls;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Gateway.Sdk.Security;

namespace Gateway.Plugins.DnsDot.Configuration;

/// <summary>
/// Checks the serving keys: client lists, rate limit, connection limits, the encrypted listeners and their
/// certificate, and <c>bootstrap</c>. Every problem is reported at its key path (file:line:col from the host).
/// </summary>
internal static class ServingOptionsValidator
{
    /// <summary>The smallest <c>maxBufferedAnswerBytes</c>: one answer of the largest size with its length prefix.</summary>
    public const int MinBufferedAnswerBytes = 2 + ushort.MaxValue;

    /// <summary>Validates <paramref name="options"/>; errors go to <paramref name="context"/>.</summary>
    public static void Validate(PluginValidationContext context, DnsDotOptions options)
    {
        Networks(context, "allowClients", options.AllowClients ?? []);
        Networks(context, "denyClients", options.DenyClients);

        RateLimitOptions rate = options.RateLimit;
        if (rate.Qps < 0)
        {
            context.Error("rateLimit:qps", $"must not be negative (got {rate.Qps}); 0 turns rate limiting off");
        }

        if (rate.Burst < 0)
        {
            context.Error("rateLimit:burst", $"must not be negative (got {rate.Burst}); 0 means the same as qps");
        }

        if (rate.Ipv4Prefix is < 0 or > 32)
        {
            context.Error("rateLimit:ipv4Prefix", $"{rate.Ipv4Prefix} is outside 0..32 bits");
        }

        if (rate.Ipv6Prefix is < 0 or > 64)
        {
            context.Error("rateLimit:ipv6Prefix", $"{rate.Ipv6Prefix} is outside 0..64 bits");
        }

        if (rate.Slip < 0)
        {
            context.Error("rateLimit:slip", $"must not be negative (got {rate.Slip}); 0 drops every query over the limit");
        }

        if (rate.MaxClients <= 0)
        {
            context.Error("rateLimit:maxClients", $"must be greater than 0 (got {rate.MaxClients})");
        }

        if (options.MaxConnectionsPerClient < 0)
        {
            context.Error("maxConnectionsPerClient", $"must not be negative (got {options.MaxConnectionsPerClient}); 0 means no cap");
        }

        if (options.ClientWriteTimeoutMs <= 0)
        {
            context.Error("clientWriteTimeoutMs", $"must be greater than 0 (got {options.ClientWriteTimeoutMs})");
        }

        if (options.MaxBufferedAnswerBytes < MinBufferedAnswerBytes)
        {
            context.Error("maxBufferedAnswerBytes", $"must hold at least one answer of the largest size, {MinBufferedAnswerBytes} bytes (got {options.MaxBufferedAnswerBytes})");
        }

        if (options.Cache.MaxBytes <= 0)
        {
            context.Error("cache:maxBytes", $"must be greater than 0 (got {options.Cache.MaxBytes})");
        }

        bool listeners = Endpoints(context, "listenTls", options.ListenTls) | Endpoints(context, "virtualTls", options.VirtualTls ?? []) |
                         Endpoints(context, "listenHttps", options.ListenHttps) | Endpoints(context, "virtualHttps", options.VirtualHttps ?? []);
        Certificate(context, options, listeners);

        for (int i = 0; i < options.Bootstrap.Count; i++)
        {
            if (!TryParseServer(options.Bootstrap[i], out _))
            {
                context.Error($"bootstrap:{i}", $"'{options.Bootstrap[i]}' is not an IP address or ip:port of a plain DNS server, such as 9.9.9.9 or [2620:fe::fe]:53");
            }
        }
    }

    /// <summary>Parses a plain DNS server: "ip" (port 53) or "ip:port".</summary>
    public static bool TryParseServer(string? text, out NetEndpoint server)
    {
        server = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        if (NetAddress.TryParse(text.Trim().Trim('[', ']'), out NetAddress address))
        {
            server = new NetEndpoint(address, 53);
            return true;
        }

        return NetEndpoint.TryParse(text.Trim(), out server);
    }

    private static void Networks(PluginValidationContext context, string key, List<string> networks)
    {
        for (int i = 0; i < networks.Count; i++)
        {
            if (!IpPrefix.TryParse(networks[i], out _))
            {
                context.Error($"{key}:{i}", $"'{networks[i]}' is not a network such as 192.168.1.0/24 or fd00::/8");
            }
        }
    }

    // True when at least one endpoint is configured.
    private static bool Endpoints(PluginValidationContext context, string key, List<string> endpoints)
    {
        for (int i = 0; i < endpoints.Count; i++)
        {
            if (!NetEndpoint.TryParse(endpoints[i], out _))
            {
                context.Error($"{key}:{i}", $"'{endpoints[i]}' is not an ip:port such as 127.0.0.1:853 or [::1]:443");
            }
        }

        return endpoints.Count > 0;
    }

    private static void Certificate(PluginValidationContext context, DnsDotOptions options, bool listeners)
    {
        if (options.CertFile is null != (options.KeyFile is null))
        {
            context.Error(options.CertFile is null ? "certFile" : "keyFile", "certFile and keyFile go together: the PEM certificate chain and its private key");
            return;
        }

        if (options.CertFile is null)
        {
            if (listeners)
            {
                context.Error("certFile", "listenTls, virtualTls, listenHttps and virtualHttps need a certificate: set certFile and keyFile (PEM)");
            }

            return;
        }

        string cert = DnsDotOptionsValidator.ResolvePath(context.ConfigDirectory, options.CertFile);
        string key = DnsDotOptionsValidator.ResolvePath(context.ConfigDirectory, options.KeyFile!);
        if (!File.Exists(cert))
        {
            context.Error("certFile", $"file not found: {cert}");
            return;
        }

        if (!File.Exists(key))
        {
            context.Error("keyFile", $"file not found: {key}");
            return;
        }

        if (FileTrust.CheckSecretFile(key) is { } problem)
        {
            context.Error("keyFile", $"{key} {problem}");
            return;
        }

        try
        {
            ListenerCertificate.Load(cert, key);
        }
        catch (Exception e) when (e is CryptographicException or InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            context.Error("certFile", $"{cert} with {key} cannot be used: {e.Message}");
        }
    }
}
