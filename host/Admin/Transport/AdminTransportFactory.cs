using System.Net;
using Microsoft.AspNetCore.Connections;

namespace Gateway.Host.Admin.Transport;

/// <summary>
/// Kestrel's transport for the admin listener: TCP endpoints come from Kestrel's socket transport, the
/// <see cref="H2cHandoffEndPoint"/> from an in-process <see cref="H2cHandoffListener"/>.
/// </summary>
internal sealed class AdminTransportFactory : IConnectionListenerFactory
{
    private readonly IConnectionListenerFactory _sockets;
    private readonly Dictionary<EndPoint, H2cHandoffListener> _handoffs = [];

    public AdminTransportFactory(IConnectionListenerFactory sockets)
    {
        _sockets = sockets;
    }

    /// <summary>The handoff listener created for <paramref name="endPoint"/> (after Kestrel bound it).</summary>
    public H2cHandoffListener? HandoffFor(H2cHandoffEndPoint endPoint)
    {
        lock (_handoffs)
        {
            return _handoffs.GetValueOrDefault(endPoint);
        }
    }

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is H2cHandoffEndPoint handoff)
        {
            var listener = new H2cHandoffListener(handoff);
            lock (_handoffs)
            {
                _handoffs[handoff] = listener;
            }

            return ValueTask.FromResult<IConnectionListener>(listener);
        }

        return _sockets.BindAsync(endpoint, cancellationToken);
    }
}
