using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace Gateway.Sdk.Networking;

/// <summary>An address and a port as a value type ("10.30.30.30:53", "[fd00::30]:53").</summary>
public readonly struct NetEndpoint : IEquatable<NetEndpoint>
{
    /// <summary>Creates an endpoint.</summary>
    public NetEndpoint(NetAddress address, ushort port)
    {
        Address = address;
        Port = port;
    }

    /// <summary>The address.</summary>
    public NetAddress Address { get; }

    /// <summary>The port.</summary>
    public ushort Port { get; }

    /// <summary>Converts an <see cref="IPEndPoint"/>; IPv4-mapped addresses become IPv4.</summary>
    public static NetEndpoint FromIPEndPoint(IPEndPoint endpoint) =>
        new(NetAddress.FromIPAddress(endpoint.Address), (ushort)endpoint.Port);

    /// <summary>Converts to an <see cref="IPEndPoint"/> (allocates).</summary>
    public IPEndPoint ToIPEndPoint() => new(Address.ToIPAddress(), Port);

    /// <summary>
    /// Parses "1.2.3.4:53" or "[::1]:53". The port is required and must be 1–65535
    /// (0 is accepted only when <paramref name="allowZeroPort"/> is set).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out NetEndpoint endpoint, bool allowZeroPort = false)
    {
        endpoint = default;
        text = text.Trim();
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            return false;
        }

        ReadOnlySpan<char> host = text[..colon];
        ReadOnlySpan<char> port = text[(colon + 1)..];
        if (host[0] == '[')
        {
            if (host[^1] != ']')
            {
                return false;
            }

            host = host[1..^1];
            if (!host.Contains(':'))
            {
                return false;
            }
        }
        else if (host.Contains(':'))
        {
            // An IPv6 address must be bracketed so that its last group is not taken for the port.
            return false;
        }

        if (!ushort.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out ushort portNumber) ||
            (portNumber == 0 && !allowZeroPort) ||
            !NetAddress.TryParse(host, out NetAddress address))
        {
            return false;
        }

        endpoint = new NetEndpoint(address, portNumber);
        return true;
    }

    /// <summary>Parses "1.2.3.4:53" or "[::1]:53".</summary>
    /// <exception cref="FormatException">The text is not an address:port.</exception>
    public static NetEndpoint Parse(string text) =>
        TryParse(text, out NetEndpoint endpoint)
            ? endpoint
            : throw new FormatException($"'{text}' is not an address:port (IPv6 as [addr]:port)");

    /// <summary>
    /// Parses "host:port" where host may also be a DNS name (see <see cref="HostPort"/>) and resolves it through
    /// <paramref name="resolver"/> (normally <see cref="Plugins.IPluginContext.NameResolver"/>): the first address wins.
    /// An IP literal needs no resolver round trip.
    /// </summary>
    /// <exception cref="FormatException">The text is not host:port.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">The name does not exist, has no address, or could not be resolved.</exception>
    public static async ValueTask<NetEndpoint> ResolveAsync(string hostPort, INameResolver resolver, CancellationToken cancellationToken)
    {
        IReadOnlyList<NetEndpoint> endpoints = await HostPort.Parse(hostPort).ResolveAsync(resolver, cancellationToken).ConfigureAwait(false);
        return endpoints[0];
    }

    /// <inheritdoc/>
    public bool Equals(NetEndpoint other) => Port == other.Port && Address.Equals(other.Address);

    /// <inheritdoc/>
    public override bool Equals([NotNullWhen(true)] object? obj) => obj is NetEndpoint other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Address, Port);

    /// <summary>Equality.</summary>
    public static bool operator ==(NetEndpoint left, NetEndpoint right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(NetEndpoint left, NetEndpoint right) => !left.Equals(right);

    /// <inheritdoc/>
    public override string ToString() =>
        Address.IsV6 ? $"[{Address}]:{Port}" : $"{Address}:{Port}";
}
