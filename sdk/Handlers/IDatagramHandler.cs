namespace Gateway.Sdk.Handlers;

/// <summary>Handles datagrams (UDP payloads) arriving on an endpoint a plugin bound.</summary>
/// <remarks>
/// Called on the receiving thread, possibly for many datagrams per wake-up: return quickly.
/// The payload span is only valid during the call; copy it (into a pooled buffer) before going
/// asynchronous. A handler that throws is logged with the plugin's id and the datagram is dropped;
/// the endpoint keeps serving.
/// </remarks>
public interface IDatagramHandler
{
    /// <summary>Handles one datagram. Answer now or later with <see cref="DatagramRequest.Reply"/>.</summary>
    /// <param name="request">Who sent it, where, and how to answer; may be copied and kept.</param>
    /// <param name="payload">The UDP payload; valid only during this call.</param>
    void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload);
}
