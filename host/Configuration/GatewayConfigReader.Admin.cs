using System.Net;
using Gateway.Sdk.Security;
using Microsoft.Extensions.Configuration;

namespace Gateway.Host.Configuration;

/// <summary>The admin listener's keys (<c>host.admin</c>) and OTLP export (<c>host.otlp</c>).</summary>
internal sealed partial class GatewayConfigReader
{
    /// <summary>The shortest admin token accepted: 16 characters (96 bits as base64), so it cannot be guessed online.</summary>
    public const int MinTokenLength = 16;

    private void ReadAdmin(IConfigurationSection admin, AdminOptions options)
    {
        ExpectKeys(admin, "listen", "token", "tokenFile", "allowedHosts");
        IConfigurationSection listen = admin.GetSection("listen");
        options.Listen = ReadEndpoint(listen);
        IConfigurationSection token = admin.GetSection("token");
        IConfigurationSection tokenFile = admin.GetSection("tokenFile");
        if (token.Exists() && tokenFile.Exists())
        {
            Error(tokenFile.Path, "give token or tokenFile, not both");
        }
        else if (token.Exists())
        {
            options.Token = ReadToken(token, token.Value?.Trim(), "token");
        }
        else if (tokenFile.Exists())
        {
            options.Token = ReadTokenFile(tokenFile, options);
        }

        foreach ((string path, string text) in ReadStringItems(admin.GetSection("allowedHosts")))
        {
            string host = text.Trim().ToLowerInvariant();
            if (host.Contains(':') && !IPAddress.TryParse(host.Trim('[', ']'), out _) || host.Contains('/') || host.Contains(' '))
            {
                Error(path, $"'{text}' is not a host name (a name or an address, without port or scheme)");
                continue;
            }

            options.AllowedHosts.Add(host.Trim('[', ']'));
        }

        // Issue 13: the admin listener shows client names and addresses and can reload the config; off loopback it
        // must not be open to whoever can reach the port.
        if (options.Listen is { } endpoint && !IPAddress.IsLoopback(endpoint.Address.ToIPAddress()) && options.Token is null)
        {
            Error(listen.Path, $"'{endpoint}' is not a loopback address: set host.admin.tokenFile (or token) so that only holders of the token can use the admin listener, or listen on 127.0.0.1");
        }
    }

    private string? ReadToken(IConfigurationSection key, string? value, string what)
    {
        if (string.IsNullOrEmpty(value))
        {
            Error(key.Path, $"the {what} is empty");
            return null;
        }

        if (value.Length < MinTokenLength || value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            Error(key.Path, $"the {what} must be at least {MinTokenLength} characters without spaces (e.g. the output of: openssl rand -base64 32)");
            return null;
        }

        return value;
    }

    private string? ReadTokenFile(IConfigurationSection key, AdminOptions options)
    {
        if (!IsScalar(key) || string.IsNullOrWhiteSpace(key.Value))
        {
            Error(key.Path, "expected a file path");
            return null;
        }

        string path = Path.GetFullPath(key.Value.Trim(), _document.Directory);
        options.TokenFile = path;
        if (!File.Exists(path))
        {
            Error(key.Path, $"{path} does not exist (create it with: openssl rand -base64 32 > {path}; chmod 600 {path})");
            return null;
        }

        if (FileTrust.CheckSecretFile(path) is { } refusal)
        {
            Error(key.Path, $"{path} {refusal}");
            return null;
        }

        string? line;
        try
        {
            using var reader = new StreamReader(path);
            line = reader.ReadLine();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Error(key.Path, $"{path} cannot be read ({ex.Message})");
            return null;
        }

        return ReadToken(key, line?.Trim(), $"token in {path}");
    }

    private void ReadOtlp(IConfigurationSection otlp, OtlpOptions options)
    {
        ExpectKeys(otlp, "endpoint", "protocol", "intervalSeconds", "headers");
        IConfigurationSection endpoint = otlp.GetSection("endpoint");
        if (endpoint.Exists() && IsScalar(endpoint) && !string.IsNullOrWhiteSpace(endpoint.Value))
        {
            if (Uri.TryCreate(endpoint.Value.Trim(), UriKind.Absolute, out Uri? uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0)
            {
                options.Endpoint = uri;
            }
            else
            {
                Error(endpoint.Path, $"'{endpoint.Value}' is not an http:// or https:// URL, e.g. http://127.0.0.1:4317");
            }
        }

        IConfigurationSection protocol = otlp.GetSection("protocol");
        if (protocol.Exists() && protocol.Value is { } value)
        {
            if (value is "grpc" or "http/protobuf")
            {
                options.Protocol = value;
            }
            else
            {
                Error(protocol.Path, $"'{value}' is not grpc or http/protobuf");
            }
        }

        options.IntervalSeconds = ReadInt(otlp.GetSection("intervalSeconds"), 1, 3600) ?? OtlpOptions.DefaultIntervalSeconds;
        foreach (IConfigurationSection header in otlp.GetSection("headers").GetChildren())
        {
            if (!IsScalar(header) || header.Value is null || header.Key.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
            {
                Error(header.Path, "expected a header name (letters, digits, '-') with a text value");
                continue;
            }

            options.Headers[header.Key] = header.Value;
        }
    }
}
