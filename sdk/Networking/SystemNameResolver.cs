using System.Net;
using System.Net.Sockets;

namespace Gateway.Sdk.Networking;

/// <summary>The operating system's resolver (getaddrinfo through <see cref="Dns"/>).</summary>
public sealed class SystemNameResolver : INameResolver
{
    /// <summary>The one instance.</summary>
    public static SystemNameResolver Instance { get; } = new();

    private SystemNameResolver()
    {
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<IPAddress>> ResolveAsync(string host, AddressFamily family, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        if (IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? literal))
        {
            return family == AddressFamily.Unspecified || literal.AddressFamily == family ? [literal] : [];
        }

        return await Dns.GetHostAddressesAsync(host, family, cancellationToken).ConfigureAwait(false);
    }
}
