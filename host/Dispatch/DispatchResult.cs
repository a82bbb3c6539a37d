using Gateway.Host.Routing;
namespace Gateway.Host.Dispatch;

/// <summary>
/// The outcome of <see cref="DispatchDecision.Decide"/>: what to do, why a packet is dropped, and the route.
/// A 16-byte value returned in registers. Only packets that <see cref="MissFilter"/> could not reject
/// get one: the per-packet miss path builds no result at all.
/// </summary>
internal readonly struct DispatchResult
{
    public DispatchResult(DispatchAction action, DropReason reason, PrefixRoute? route = null)
    {
        Route = route;
        Action = action;
        Reason = reason;
    }

    /// <summary>The prefix route, when <see cref="Action"/> is <see cref="DispatchAction.Route"/>.</summary>
    public PrefixRoute? Route { get; }

    /// <summary>What to do with the packet.</summary>
    public DispatchAction Action { get; }

    /// <summary>Why the packet is dropped, when <see cref="Action"/> is <see cref="DispatchAction.Drop"/>.</summary>
    public DropReason Reason { get; }
}
