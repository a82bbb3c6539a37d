using System.Net.Sockets;
using System.Text;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Plugins.HttpProxy.Io;
using Gateway.Plugins.HttpProxy.Origins;
using Gateway.Plugins.HttpProxy.Wire;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.HttpProxy.Proxy;

/// <summary>The connection as a tunnel: CONNECT (RFC 9110 §9.3.6) and a switch of protocols by a 101 (§7.8).</summary>
internal sealed partial class ClientSession
{
    private async ValueTask TunnelAsync()
    {
        OriginTunnel upstream;
        try
        {
            upstream = await _origin.ConnectAsync(_cts, _stopping).ConfigureAwait(false);
        }
        catch (OriginException e)
        {
            await OriginFailedAsync(e).ConfigureAwait(false);
            return;
        }

        using OriginTunnel tunnel = upstream;
        _response.Write("HTTP/1.1 200 Connection established\r\n"u8);
        _response.Write(HeadWriter.ViaLine);
        _response.Write("\r\n"u8);
        await _response.FlushAsync(_cts.Token).ConfigureAwait(false);
        Answered(200);
        Metrics.TunnelOpened();
        try
        {
            await RelayAsync(tunnel.Socket, tunnel.Reader).ConfigureAwait(false);
        }
        finally
        {
            Metrics.TunnelClosed();
        }
    }

    /// <summary>
    /// The origin accepted the upgrade (RFC 9110 §7.8, §15.2.2): relays its 101 and then the new protocol's bytes
    /// both ways, as a CONNECT tunnel does. The origin connection ends with it; it is never pooled again.
    /// </summary>
    private async ValueTask UpgradeAsync(OriginConnection origin, int headLength)
    {
        ReadOnlySpan<byte> head = origin.Reader.Buffered[..headLength];
        if (HttpHeadParser.ParseResponse(head, _responseFields, out ResponseHead response) != HttpParseError.None || !response.Headers.HasUpgrade)
        {
            // RFC 9110 §7.8: a 101 must say which protocol the connection switches to.
            _origin.Drop();
            HttpProxyLog.BadResponse(Logger, _origin.Key, "101 without an Upgrade field");
            await RejectAsync(502, "Bad Gateway", $"origin {_origin.Key} sent an invalid response head").ConfigureAwait(false);
            return;
        }

        ReadOnlySpan<HeaderField> fields = _responseFields.AsSpan(0, response.Headers.Count);
        HeadWriter.WriteResponse(_response, head, response, fields, chunked: false, close: false, keepAlive: false, upgrade: true);
        if (Logger.IsEnabled(LogLevel.Debug))
        {
            HttpProxyLog.Upgraded(Logger, ClientText, _origin.Key, Encoding.ASCII.GetString(UpgradeValue(head, fields)));
        }

        origin.Reader.Consume(headLength);
        // The connection now carries another protocol: it leaves the lease and is closed at the end.
        using (_origin.Detach())
        {
            await _response.FlushAsync(_cts.Token).ConfigureAwait(false);
            Answered(101);
            Metrics.Upgraded();
            // Bytes either side sent right after its head are still buffered: the relay sends them first.
            await RelayAsync(origin.Socket, origin.Reader).ConfigureAwait(false);
        }
    }

    private static ReadOnlySpan<byte> UpgradeValue(ReadOnlySpan<byte> head, ReadOnlySpan<HeaderField> fields)
    {
        foreach (ref readonly HeaderField field in fields)
        {
            if (field.Known == KnownHeader.Upgrade)
            {
                return field.Value(head);
            }
        }

        return default;
    }

    /// <summary>
    /// Relays bytes both ways until each side has closed (RFC 9110 §9.3.6 for CONNECT, §7.8 after a 101); bytes
    /// already buffered on either side go first. Idle for tunnelIdleTimeoutSeconds ends it.
    /// </summary>
    private async Task RelayAsync(Socket origin, SocketReader originReader)
    {
        var relay = new TunnelRelay(_socket, _client, origin, originReader);
        try
        {
            await relay.RunAsync(_cts, _rules.Options.TunnelIdleTimeout).ConfigureAwait(false);
        }
        finally
        {
            _tunnelSent += relay.SentToClient;
        }
    }
}
