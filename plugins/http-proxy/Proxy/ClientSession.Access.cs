using System.Buffers.Text;
using System.Diagnostics;
using System.Text;
using Gateway.Plugins.HttpProxy.Auth;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Logging;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Plugins.HttpProxy.Proxy;

/// <summary>Who the client is (proxy authentication, RFC 9110 §11.7) and what it did (the access log).</summary>
internal sealed partial class ClientSession
{
    // PrepareRequest's answer when the request needs credentials this connection has not shown yet.
    private const int NeedsAuthentication = -1;

    // The Proxy-Authorization value this connection authenticated with: later requests showing the same value pass
    // without another check (a browser sends it on every request).
    private byte[]? _authorized;
    private string? _user;

    // The current request, for its access log line.
    private DateTimeOffset _requestTime;
    private long _requestStarted;
    private long _sentAtStart;
    private int _status;
    private string _result = "TCP_MISS";
    private string? _logMethod;
    private string? _logUrl;

    /// <summary>Counts the status in the metrics and remembers it for the access log line.</summary>
    private void Answered(int status)
    {
        Metrics.Request(status);
        _status = status;
    }

    /// <summary>A request head was read: the access log line's clock starts.</summary>
    private void RequestStarted()
    {
        _requestTime = DateTimeOffset.UtcNow;
        _requestStarted = Stopwatch.GetTimestamp();
        _sentAtStart = _response.BytesSent + _tunnelSent;
        _status = 0;
        _result = "TCP_MISS";
        _logMethod = null;
        _logUrl = null;
    }

    /// <summary>Keeps the method and URL for the log line (only when there is a log: they are strings).</summary>
    private void NoteRequest(ReadOnlySpan<byte> head)
    {
        if (_access is not null)
        {
            _logMethod = Encoding.ASCII.GetString(_request.Method(head));
            _logUrl = Encoding.ASCII.GetString(_request.Target(head));
        }
    }

    private void WriteAccessLog()
    {
        if (_access is null || _requestStarted == 0)
        {
            return;
        }

        string result = _request.IsConnect && _status == 200 ? "TCP_TUNNEL" : _result;
        _access.Write(new AccessLogEntry
        {
            Time = _requestTime,
            Elapsed = Stopwatch.GetElapsedTime(_requestStarted),
            Client = _connection.Client.Address.ToString(),
            User = _user,
            Result = result,
            Status = _status,
            Bytes = _response.BytesSent + _tunnelSent - _sentAtStart,
            Method = _logMethod ?? "-",
            Url = _logUrl ?? "-",
            Peer = result is "TCP_MISS" or "TCP_TUNNEL" or "TCP_REFRESH_MODIFIED" && _origin.Key.Length > 0 ? _origin.Key : null,
            Parent = result is "TCP_MISS" or "TCP_TUNNEL" or "TCP_REFRESH_MODIFIED" ? _origin.Parent?.HostPort : null,
            Protocol = "http",
        });
        _requestStarted = 0;
    }

    /// <summary>True when auth is off, or the request shows the credentials this connection already passed with.</summary>
    private bool IsAuthorized(ReadOnlySpan<byte> head)
    {
        if (_auth is null)
        {
            return true;
        }

        return _authorized is not null && ProxyAuthorization(head) is { } value && value.SequenceEqual(_authorized);
    }

    /// <summary>Checks the request's <c>Proxy-Authorization: Basic</c> credentials; true when they pass.</summary>
    private async ValueTask<bool> AuthenticateAsync(int headLength)
    {
        ProxyAuthenticator auth = _auth!;
        if (!TryReadBasic(_client.Buffered[..headLength], out byte[] value, out string user, out string password))
        {
            return false;
        }

        if (await auth.CheckAsync(_connection.Client.Address, user, password, _cts.Token).ConfigureAwait(false))
        {
            _authorized = value;
            _user = user;
            Metrics.Authenticated("http", user);
            return true;
        }

        _proxy.AuthenticationFailed(ClientText, user, "http");

        return false;
    }

    /// <summary>RFC 9110 §15.5.8: 407 with the scheme and realm to use.</summary>
    private ValueTask<bool> ChallengeAsync() =>
        RejectAsync(407, "Proxy Authentication Required", "this proxy needs a user name and password (Proxy-Authorization: Basic)",
            $"Proxy-Authenticate: Basic realm=\"{_auth!.Realm}\", charset=\"UTF-8\"\r\n");

    private ReadOnlySpan<byte> ProxyAuthorization(ReadOnlySpan<byte> head)
    {
        foreach (ref readonly HeaderField field in _requestFields.AsSpan(0, _request.Headers.Count))
        {
            if (field.Known == KnownHeader.ProxyAuthorization)
            {
                return field.Value(head);
            }
        }

        return default;
    }

    /// <summary>"Basic base64(user:password)" (RFC 7617; UTF-8, the charset we announce).</summary>
    private bool TryReadBasic(ReadOnlySpan<byte> head, out byte[] value, out string user, out string password)
    {
        ReadOnlySpan<byte> field = ProxyAuthorization(head);
        value = field.ToArray();
        user = password = string.Empty;
        if (field.Length < 7 || !Ascii.EqualsIgnoreCase(field[..6], "Basic "u8))
        {
            return false;
        }

        ReadOnlySpan<byte> encoded = field[6..].Trim((byte)' ');
        byte[] decoded = new byte[Base64.GetMaxDecodedFromUtf8Length(encoded.Length)];
        if (encoded.Length > 1024 || Base64.DecodeFromUtf8(encoded, decoded, out _, out int written) != System.Buffers.OperationStatus.Done)
        {
            return false;
        }

        int colon = decoded.AsSpan(0, written).IndexOf((byte)':');
        if (colon <= 0)
        {
            return false;
        }

        user = Encoding.UTF8.GetString(decoded, 0, colon);
        password = Encoding.UTF8.GetString(decoded, colon + 1, written - colon - 1);
        return true;
    }
}
