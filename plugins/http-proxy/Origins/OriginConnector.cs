using System.Net;
using System.Net.Sockets;

namespace Gateway.Plugins.HttpProxy.Origins;

/// <summary>Resolves origin names and opens protected egress sockets to them.</summary>
internal sealed class OriginConnector
{
    private readonly Action<Socket> _protect;
    private readonly TimeSpan _connectTimeout;

    /// <param name="protect">IPluginContext.ProtectSocket: keeps egress out of the gateway's own TUN.</param>
    /// <param name="connectTimeout">Resolution plus connection time limit.</param>
    public OriginConnector(Action<Socket> protect, TimeSpan connectTimeout)
    {
        _protect = protect;
        _connectTimeout = connectTimeout;
    }

    /// <summary>Resolves <paramref name="host"/> (an IP literal needs no lookup); throws <see cref="OriginException"/> (502/504).</summary>
    public async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out IPAddress? literal))
        {
            return [literal];
        }

        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_connectTimeout);
        try
        {
            IPAddress[] addresses = await Dns.GetHostAddressesAsync(host, timeout.Token).ConfigureAwait(false);
            if (addresses.Length == 0)
            {
                throw new OriginException(502, $"'{host}' has no addresses");
            }

            return addresses;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new OriginException(504, $"resolving '{host}' took longer than {_connectTimeout.TotalSeconds:0.#} s");
        }
        catch (SocketException e)
        {
            throw new OriginException(502, $"cannot resolve '{host}': {e.SocketErrorCode}");
        }
    }

    /// <summary>Connects to the first address that accepts; throws <see cref="OriginException"/> (502 refused/unreachable, 504 timeout).</summary>
    /// <param name="addresses">Candidate addresses, tried in order.</param>
    /// <param name="port">The origin's port.</param>
    /// <param name="deadline">The session's cancellation source, armed here with the connect timeout (no new timer per connect).</param>
    /// <param name="stopping">Signalled when the plugin stops; tells a stop apart from a timeout.</param>
    public async ValueTask<Socket> ConnectAsync(IPAddress[] addresses, int port, CancellationTokenSource deadline, CancellationToken stopping)
    {
        deadline.CancelAfter(_connectTimeout);
        SocketError lastError = SocketError.HostUnreachable;
        foreach (IPAddress address in addresses)
        {
            Socket socket = new(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                _protect(socket);
                await socket.ConnectAsync(new IPEndPoint(address, port), deadline.Token).ConfigureAwait(false);
                return socket;
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                socket.Dispose();
                throw new OriginException(504, $"connecting took longer than {_connectTimeout.TotalSeconds:0.#} s");
            }
            catch (SocketException e)
            {
                socket.Dispose();
                lastError = e.SocketErrorCode;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw new OriginException(502, $"connection failed: {lastError}");
    }
}
