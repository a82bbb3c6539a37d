namespace Gateway.Plugins.HttpProxy.Diagnostics;

/// <summary>The per-request warnings a client can cause at will, each rate-limited on its own (<see cref="WarningLimiter"/>).</summary>
internal enum WarningKind
{
    OriginUnreachable,
    OriginTimeout,
    DestinationDenied,
    ClientDenied,
    ConnectionLimit,
    AuthenticationFailed,
    NoParentUp,
}
