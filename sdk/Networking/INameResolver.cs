using System.Net;
using System.Net.Sockets;

namespace Gateway.Sdk.Networking;

/// <summary>
/// Resolves host names to addresses. The gateway's resolver (<see cref="Plugins.IPluginContext.NameResolver"/>) is
/// the one a DNS plugin provided (so names go through its rules, cache and encrypted upstreams and never leak to the
/// system resolver), else the system resolver.
/// </summary>
public interface INameResolver
{
    /// <summary>
    /// The addresses of <paramref name="host"/>: A records for <see cref="AddressFamily.InterNetwork"/>, AAAA for
    /// <see cref="AddressFamily.InterNetworkV6"/>, both (IPv6 first when both exist, as the system resolver orders
    /// them) for <see cref="AddressFamily.Unspecified"/>. An IP literal resolves to itself.
    /// </summary>
    /// <returns>The addresses; empty when the name exists but has none of the asked family.</returns>
    /// <exception cref="SocketException">
    /// The name does not exist (<see cref="SocketError.HostNotFound"/>) or could not be resolved
    /// (<see cref="SocketError.TryAgain"/>: the resolver failed or was refused).
    /// </exception>
    ValueTask<IReadOnlyList<IPAddress>> ResolveAsync(string host, AddressFamily family, CancellationToken cancellationToken);
}
