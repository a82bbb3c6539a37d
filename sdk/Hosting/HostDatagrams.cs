using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;

namespace Gateway.Sdk.Hosting;

/// <summary>
/// Host plumbing for <see cref="DatagramRequest"/>: a request that carries responder-specific state (for example the
/// tunnel a datagram came from, so that the reply goes back through it). Plugins have no use for the state; it is kept
/// here, out of <see cref="DatagramRequest"/>'s own surface, so that a plugin author never mistakes it for data.
/// </summary>
public static class HostDatagrams
{
    /// <summary>Creates a request whose <paramref name="state"/> the <paramref name="responder"/> reads back with <see cref="StateOf"/>.</summary>
    /// <param name="responder">Sends the reply back the way the request came.</param>
    /// <param name="client">The original sender.</param>
    /// <param name="local">The endpoint the datagram was sent to (a virtual endpoint or a host socket's address).</param>
    /// <param name="origin">How the datagram entered the gateway.</param>
    /// <param name="maxReplySize">The largest reply payload that fits the way back, in bytes.</param>
    /// <param name="state">Responder-specific state, or null.</param>
    public static DatagramRequest Create(IDatagramResponder responder, NetEndpoint client, NetEndpoint local, PacketOrigin origin, int maxReplySize, object? state) =>
        new(responder, client, local, origin, maxReplySize, state);

    /// <summary>The state the request was created with by <see cref="Create"/>, or null.</summary>
    public static object? StateOf(in DatagramRequest request) => request.State;
}
