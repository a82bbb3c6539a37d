using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;

namespace Gateway.Plugins.DnsDot.Server.Https;

/// <summary>
/// Kestrel's transport for the DoH listener: instead of a socket it listens on, it is handed connections that the
/// host accepted (on <c>listenHttps</c> host sockets and <c>virtualHttps</c> TUN endpoints alike) and that we
/// admitted and decrypted (<see cref="DohStreamHandler"/>). Kestrel then does only HTTP/1.1 and HTTP/2.
/// </summary>
internal sealed class DohTransport : IConnectionListenerFactory, IConnectionListener
{
    private readonly Channel<ConnectionContext> _pending = Channel.CreateBounded<ConnectionContext>(new BoundedChannelOptions(1024)
    {
        SingleReader = false,
        SingleWriter = false,
        FullMode = BoundedChannelFullMode.Wait,
    });

    /// <summary>The endpoint Kestrel is told to listen on (it names nothing real).</summary>
    public static EndPoint ListenEndPoint { get; } = new DohEndPoint();

    /// <inheritdoc/>
    public EndPoint EndPoint => ListenEndPoint;

    /// <summary>Hands a connection to Kestrel (waits while Kestrel is 1024 connections behind).</summary>
    public ValueTask OfferAsync(ConnectionContext connection, CancellationToken cancellationToken) => _pending.Writer.WriteAsync(connection, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) => ValueTask.FromResult<IConnectionListener>(this);

    /// <inheritdoc/>
    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _pending.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _pending.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }

    private sealed class DohEndPoint : EndPoint
    {
        public override string ToString() => "dns-dot DoH listeners";
    }
}
