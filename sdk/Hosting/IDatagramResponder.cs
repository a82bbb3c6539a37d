using Gateway.Sdk.Handlers;

namespace Gateway.Sdk.Hosting;

/// <summary>
/// Sends replies for datagrams; implemented by a host for each way a datagram can arrive. Host plumbing: plugins call
/// <see cref="DatagramRequest.Reply"/> and never need this interface, except to build requests in their own tests.
/// </summary>
public interface IDatagramResponder
{
    /// <summary>
    /// Sends <paramref name="payload"/> from the request's local endpoint to its client, back the way the
    /// request came. Returns false when the reply could not be sent (too large, transport gone).
    /// </summary>
    bool TrySend(in DatagramRequest request, ReadOnlySpan<byte> payload);
}
