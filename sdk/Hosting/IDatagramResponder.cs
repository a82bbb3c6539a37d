namespace Gateway.Sdk.Handlers;

/// <summary>Sends replies for datagrams; implemented by the host for each way a datagram can arrive.</summary>
/// <remarks>Plugins call <see cref="DatagramRequest.Reply"/> rather than this interface directly.</remarks>
public interface IDatagramResponder
{
    /// <summary>
    /// Sends <paramref name="payload"/> from the request's local endpoint to its client, back the way the
    /// request came. Returns false when the reply could not be sent (too large, transport gone).
    /// </summary>
    bool TrySend(in DatagramRequest request, ReadOnlySpan<byte> payload);
}
