namespace Gateway.Sdk.Networking;

/// <summary>Where a service is offered.</summary>
public enum EndpointKind
{
    /// <summary>An ordinary socket on the host (config key <c>listen:</c>); works without the TUN.</summary>
    HostSocket,

    /// <summary>A virtual endpoint served through the gateway's TUN device (config key <c>virtual:</c>).</summary>
    Virtual,
}

/// <summary>An endpoint a plugin offers a service on: a host socket or a virtual endpoint.</summary>
/// <param name="Kind">Host socket or virtual endpoint.</param>
/// <param name="Endpoint">The address and port.</param>
public readonly record struct ServiceEndpoint(EndpointKind Kind, NetEndpoint Endpoint)
{
    /// <inheritdoc/>
    public override string ToString() => Kind == EndpointKind.Virtual ? $"virtual {Endpoint}" : Endpoint.ToString();
}
