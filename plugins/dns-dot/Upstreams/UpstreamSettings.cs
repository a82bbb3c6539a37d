using System.Net.Sockets;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>Settings shared by every upstream connection (a record: a reload compares them to decide whether a pool can be kept).</summary>
internal sealed record UpstreamSettings
{
    /// <summary>TCP connect timeout.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>TLS handshake timeout.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Time to wait for one answer before the single retry.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(1.5);

    /// <summary>Idle connections are replaced after this long (dotproxy's stale_timeout).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Connections kept warm per upstream.</summary>
    public int MinConnections { get; init; } = 1;

    /// <summary>Most connections per upstream.</summary>
    public int MaxConnections { get; init; } = 4;

    /// <summary>Most queries in flight per connection.</summary>
    public int MaxInFlightPerConnection { get; init; } = 128;

    /// <summary>Marks upstream sockets so they never route into our own TUN (IPluginContext.ProtectSocket).</summary>
    public Action<Socket> ProtectSocket { get; init; } = static _ => { };

    /// <summary>First exclusion after a failure (doubles per consecutive failure).</summary>
    public TimeSpan BaseExclusion { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest exclusion.</summary>
    public TimeSpan MaxExclusion { get; init; } = TimeSpan.FromSeconds(8);
}
