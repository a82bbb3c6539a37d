using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>
/// Where an upstream is: its address as configured, or, for a host name, the address the
/// <see cref="BootstrapResolver"/> gave, asked again when its TTL runs out (in the background, by
/// <see cref="Refresh"/> from the pool's upkeep; connections keep using the old address meanwhile).
/// </summary>
internal sealed class UpstreamEndpoint
{
    private readonly string? _host;
    private readonly int _port;
    private readonly BootstrapResolver? _bootstrap;
    private IPEndPoint? _current;
    private long _expires;
    private int _resolving;

    /// <summary>A fixed address.</summary>
    public UpstreamEndpoint(IPEndPoint endpoint)
    {
        _current = endpoint;
        _port = endpoint.Port;
        _expires = long.MaxValue;
    }

    /// <summary>A host name resolved through <paramref name="bootstrap"/>.</summary>
    public UpstreamEndpoint(string host, int port, BootstrapResolver bootstrap)
    {
        _host = host;
        _port = port;
        _bootstrap = bootstrap;
    }

    /// <summary>The address to connect to now; null while a host name has never been resolved.</summary>
    public IPEndPoint? Current => Volatile.Read(ref _current);

    /// <summary>The host name, or null for a fixed address.</summary>
    public string? Host => _host;

    /// <summary>The family of <see cref="Current"/> (IPv4 until resolved).</summary>
    public AddressFamily Family => Current?.AddressFamily ?? AddressFamily.InterNetwork;

    /// <summary>
    /// Starts resolving the host name when it was never resolved or its TTL ran out (one resolution at a time);
    /// <paramref name="onResolved"/> runs after a successful one. Does nothing for a fixed address.
    /// </summary>
    public void Refresh(DnsUpstream owner, ILogger logger, CancellationToken cancellationToken, Action? onResolved = null)
    {
        if (_bootstrap is null || Stopwatch.GetTimestamp() < Volatile.Read(ref _expires) || Interlocked.Exchange(ref _resolving, 1) == 1)
        {
            return;
        }

        _ = ResolveAsync(owner, logger, cancellationToken, onResolved);
    }

    /// <summary>Resolves now (waits for it) when the host name has no address yet; for the first query.</summary>
    public async Task EnsureResolvedAsync(DnsUpstream owner, ILogger logger, CancellationToken cancellationToken)
    {
        if (Current is not null || _bootstrap is null)
        {
            return;
        }

        if (Interlocked.Exchange(ref _resolving, 1) == 0)
        {
            await ResolveAsync(owner, logger, cancellationToken, null).ConfigureAwait(false);
            return;
        }

        // Another caller resolves: wait for it a little.
        for (int i = 0; i < 50 && Current is null && Volatile.Read(ref _resolving) == 1; i++)
        {
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ResolveAsync(DnsUpstream owner, ILogger logger, CancellationToken cancellationToken, Action? onResolved)
    {
        try
        {
            (IReadOnlyList<IPAddress> addresses, TimeSpan ttl) = await _bootstrap!.ResolveAsync(_host!, cancellationToken).ConfigureAwait(false);
            var endpoint = new IPEndPoint(addresses[0], _port);
            Volatile.Write(ref _current, endpoint);
            Volatile.Write(ref _expires, Stopwatch.GetTimestamp() + (long)(ttl.TotalSeconds * Stopwatch.Frequency));
            if (logger.IsEnabled(LogLevel.Debug))
            {
                DnsDotLog.BootstrapResolved(logger, owner.Name, _host!, string.Join(", ", addresses), (uint)ttl.TotalSeconds);
            }

            onResolved?.Invoke();
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or TimeoutException or InvalidDataException)
        {
            // Asked again in a few seconds; an address resolved before stays in use meanwhile.
            Volatile.Write(ref _expires, Stopwatch.GetTimestamp() + (5 * Stopwatch.Frequency));
            if (e is not OperationCanceledException && owner.ShouldLog(e.Message))
            {
                DnsDotLog.BootstrapFailed(logger, owner.Name, _host!, e.Message);
            }
        }
        finally
        {
            Volatile.Write(ref _resolving, 0);
        }
    }
}
