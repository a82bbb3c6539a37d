using Gateway.Host.Configuration;
using Gateway.Host.Networking;
using Gateway.Sdk.Handlers;

namespace Gateway.Host.Sockets;

/// <summary>
/// One plugin version's claim on a host socket. A socket normally has one owner; while a replaced plugin drains it has
/// two — the new version (which gets every new connection or datagram) and the old one (whose open connections and
/// pending replies finish) — so that the new version serves on the same port without a second bind (DESIGN §4 drain).
/// </summary>
internal sealed class ListenerOwner
{
    public ListenerOwner(PluginHandlerGuard guard, IDatagramHandler handler)
    {
        Guard = guard;
        DatagramHandler = handler;
    }

    public ListenerOwner(PluginHandlerGuard guard, IStreamHandler handler, LimitsOptions limits)
    {
        Guard = guard;
        StreamHandler = handler;
        Limits = limits;
    }

    public PluginHandlerGuard Guard { get; }

    /// <summary>The plugin's handler on a UDP socket.</summary>
    public IDatagramHandler? DatagramHandler { get; }

    /// <summary>The plugin's handler on a TCP socket.</summary>
    public IStreamHandler? StreamHandler { get; }

    /// <summary>Connection limits (TCP).</summary>
    public LimitsOptions? Limits { get; }

    /// <summary>Cancelled when this owner lets go: its connections are told to finish.</summary>
    public CancellationTokenSource Stopping { get; } = new();

    /// <summary>False once this owner stopped taking new work (removed plugin draining).</summary>
    public bool Accepting { get; set; } = true;

    /// <summary>Connections accepted for this owner (TCP), so that they close with it and not with the socket.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<System.Net.Sockets.Socket, byte> Open { get; } = new();

    /// <summary>Connections counted against this owner's maxConnections.</summary>
    public int Active;
}
