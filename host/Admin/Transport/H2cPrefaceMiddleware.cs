using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace Gateway.Host.Admin.Transport;

/// <summary>
/// HTTP/1.1 and cleartext HTTP/2 on one port. Kestrel picks HTTP/2 on a plain-TCP endpoint only when it is
/// HTTP/2-only (there is no ALPN without TLS; dotnet/aspnetcore#56984), which would shut out browsers and curl's
/// default. This connection middleware peeks at the first 24 bytes: the HTTP/2 client preface
/// (RFC 9113 §3.4, "prior knowledge") hands the connection to the HTTP/2-only handoff endpoint, anything else
/// continues as HTTP/1.1 with every byte still unread. The HTTP/1.1 "Upgrade: h2c" dance is not offered
/// (RFC 9113 §3.1 deprecated it).
/// </summary>
internal sealed class H2cPrefaceMiddleware
{
    /// <summary>A client must send its first bytes within this time, as for a request head.</summary>
    public static readonly TimeSpan FirstBytesTimeout = TimeSpan.FromSeconds(10);

    private static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    private readonly ConnectionDelegate _http1;
    private readonly Func<H2cHandoffListener?> _handoff;

    public H2cPrefaceMiddleware(ConnectionDelegate http1, Func<H2cHandoffListener?> handoff)
    {
        _http1 = http1;
        _handoff = handoff;
    }

    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        bool isHttp2;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed))
        {
            timeout.CancelAfter(FirstBytesTimeout);
            try
            {
                isHttp2 = await StartsWithPrefaceAsync(connection, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                connection.Abort(new ConnectionAbortedException("no request within " + FirstBytesTimeout.TotalSeconds + " s"));
                return;
            }
        }

        if (!isHttp2)
        {
            await _http1(connection).ConfigureAwait(false);
            return;
        }

        var handed = new H2cHandoffConnection(connection);
        if (_handoff() is not { } listener || !await listener.OfferAsync(handed, connection.ConnectionClosed).ConfigureAwait(false))
        {
            connection.Abort(new ConnectionAbortedException("the admin listener is stopping"));
            return;
        }

        // The socket stays open until the HTTP/2 endpoint is done with it.
        await handed.Completed.ConfigureAwait(false);
    }

    /// <summary>Reads until the bytes so far differ from the preface or all 24 match; consumes nothing.</summary>
    private static async Task<bool> StartsWithPrefaceAsync(ConnectionContext connection, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await connection.Transport.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            bool matches = MatchesPreface(buffer, out int length);
            if (!matches || length == Preface.Length || result.IsCompleted || result.IsCanceled)
            {
                connection.Transport.Input.AdvanceTo(buffer.Start);
                return matches && length == Preface.Length;
            }

            // A prefix of the preface so far: examined everything, consumed nothing, wait for more.
            connection.Transport.Input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Whether the first min(24, length) bytes equal the preface's.</summary>
    private static bool MatchesPreface(ReadOnlySequence<byte> buffer, out int length)
    {
        length = (int)Math.Min(buffer.Length, Preface.Length);
        Span<byte> head = stackalloc byte[24];
        buffer.Slice(0, length).CopyTo(head);
        return head[..length].SequenceEqual(Preface[..length]);
    }
}
