using Gateway.Sdk.Hosting;
using Gateway.Sdk.Networking;

namespace Gateway.Sdk.Handlers;

/// <summary>
/// One received datagram's addressing and its way back. A plain value: copy it into asynchronous
/// work and call <see cref="Reply"/> when the answer is ready.
/// </summary>
public readonly struct DatagramRequest
{
    private readonly IDatagramResponder _responder;

    /// <summary>Created by the host (or by tests) for each received datagram.</summary>
    /// <param name="responder">Sends the reply back the way the request came.</param>
    /// <param name="client">The original sender.</param>
    /// <param name="local">The endpoint the datagram was sent to (a virtual endpoint or a host socket's address).</param>
    /// <param name="origin">How the datagram entered the gateway.</param>
    /// <param name="maxReplySize">The largest reply payload that fits the way back, in bytes.</param>
    public DatagramRequest(IDatagramResponder responder, NetEndpoint client, NetEndpoint local, PacketOrigin origin, int maxReplySize)
        : this(responder, client, local, origin, maxReplySize, null)
    {
    }

    /// <summary>With responder state: host plumbing, reached through <see cref="HostDatagrams.Create"/>.</summary>
    internal DatagramRequest(IDatagramResponder responder, NetEndpoint client, NetEndpoint local, PacketOrigin origin, int maxReplySize, object? state)
    {
        _responder = responder ?? throw new ArgumentNullException(nameof(responder));
        Client = client;
        Local = local;
        Origin = origin;
        MaxReplySize = maxReplySize;
        State = state;
    }

    /// <summary>The original sender (after any NAT the gateway did, this is still the real client).</summary>
    public NetEndpoint Client { get; }

    /// <summary>The endpoint the datagram was addressed to.</summary>
    public NetEndpoint Local { get; }

    /// <summary>How the datagram entered the gateway.</summary>
    public PacketOrigin Origin { get; }

    /// <summary>The largest reply payload, in bytes, that can be sent back without fragmentation or loss.</summary>
    public int MaxReplySize { get; }

    /// <summary>Responder-specific state (read by the host through <see cref="HostDatagrams.StateOf"/>).</summary>
    internal object? State { get; }

    /// <summary>Sends a reply from <see cref="Local"/> to <see cref="Client"/>; false if it could not be sent.</summary>
    public bool Reply(ReadOnlySpan<byte> payload) => _responder.TrySend(this, payload);
}
