using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;

namespace Gateway.Host.Admin.Transport;

/// <summary>
/// The listener behind <see cref="H2cHandoffEndPoint"/>: Kestrel accepts from it the connections that
/// <see cref="H2cPrefaceMiddleware"/> recognised as HTTP/2. Unbinding it (server stop) ends the accept loop.
/// </summary>
internal sealed class H2cHandoffListener : IConnectionListener
{
    private readonly Channel<ConnectionContext> _pending = Channel.CreateBounded<ConnectionContext>(
        new BoundedChannelOptions(64) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    public H2cHandoffListener(H2cHandoffEndPoint endPoint)
    {
        EndPoint = endPoint;
    }

    public EndPoint EndPoint { get; }

    /// <summary>Queues a recognised HTTP/2 connection for Kestrel; false when the listener was unbound (stopping).</summary>
    public async ValueTask<bool> OfferAsync(ConnectionContext connection, CancellationToken cancellationToken)
    {
        try
        {
            await _pending.Writer.WriteAsync(connection, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ChannelClosedException)
        {
            return false;
        }
    }

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

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _pending.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }
}
