using Gateway.Plugins.DnsDot.LoadBalancing;
using Gateway.Plugins.DnsDot.Lists;

namespace Gateway.Plugins.DnsDot.Clients;

/// <summary>
/// What applies to one group of clients (a <c>clients:</c> entry, or the default for clients in no group):
/// its allow and block lists, the upstream group that answers it, and whether blocking is on. Immutable, built
/// with the configuration snapshot.
/// </summary>
internal sealed class ClientPolicy
{
    public ClientPolicy(string? name, SubscribedList[] allow, SubscribedList[] block, UpstreamGroup? upstream, bool blocking)
    {
        Name = name;
        Allow = allow;
        Block = block;
        Upstream = upstream;
        Blocking = blocking;
    }

    /// <summary>The group's name; null for clients in no group.</summary>
    public string? Name { get; }

    /// <summary>Allow lists that apply (checked first: allow beats block).</summary>
    public SubscribedList[] Allow { get; }

    /// <summary>Block lists that apply, in configuration order (the first that matches is the reason).</summary>
    public SubscribedList[] Block { get; }

    /// <summary>The upstream group for these clients; null for the default <c>upstreams:</c>.</summary>
    public UpstreamGroup? Upstream { get; }

    /// <summary>False when <c>blocking: false</c>: names resolve normally for these clients.</summary>
    public bool Blocking { get; }
}
