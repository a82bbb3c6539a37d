namespace Gateway.Sdk.Relay;

/// <summary>What a <see cref="StreamRelay"/> did.</summary>
/// <param name="End">How it ended.</param>
/// <param name="ClientToUpstreamBytes">Bytes read from the client and written to the upstream.</param>
/// <param name="UpstreamToClientBytes">Bytes read from the upstream and written to the client.</param>
public readonly record struct RelayResult(RelayEnd End, long ClientToUpstreamBytes, long UpstreamToClientBytes);
