namespace Gateway.Plugins.DnsDot.Security;

/// <summary>What to do with one client query before it is resolved.</summary>
internal enum AdmissionResult
{
    /// <summary>Resolve it.</summary>
    Allow,

    /// <summary>The client is not allowed (<c>allowClients</c>/<c>denyClients</c>): answer REFUSED.</summary>
    NotAllowed,

    /// <summary>Over the rate limit, UDP: send nothing.</summary>
    Drop,

    /// <summary>Over the rate limit, UDP, the slip's turn: an empty answer with TC=1 (the client may retry over TCP).</summary>
    Truncate,

    /// <summary>Over the rate limit on a connection (TCP, DoT, DoH): answer REFUSED.</summary>
    Limited,
}
