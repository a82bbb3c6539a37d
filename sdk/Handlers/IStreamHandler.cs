namespace Gateway.Sdk.Handlers;

/// <summary>Handles stream connections (TCP) accepted on an endpoint a plugin bound.</summary>
/// <remarks>
/// Each connection runs in its own task. An exception ends that connection only (it is logged with the
/// plugin's id); the listener and other connections keep serving. The host disposes the connection when
/// <see cref="HandleAsync"/> completes.
/// </remarks>
public interface IStreamHandler
{
    /// <summary>Serves one connection until it is done or <paramref name="cancellationToken"/> fires (gateway or plugin stopping).</summary>
    Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken);
}
