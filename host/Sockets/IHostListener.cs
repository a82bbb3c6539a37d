using Gateway.Sdk.Networking;

namespace Gateway.Host.Sockets;

/// <summary>A host socket shared by the versions of one plugin during a swap (see <see cref="ListenerOwner"/>).</summary>
internal interface IHostListener
{
    /// <summary>The bound endpoint.</summary>
    NetEndpoint Local { get; }

    /// <summary>True once the socket is closed.</summary>
    bool Closed { get; }

    /// <summary>True when every owner is a draining version of <paramref name="pluginId"/>: a new version may take the socket over.</summary>
    bool OwnedOnlyByDraining(string pluginId);

    /// <summary>Adds a newest owner: it gets all new work from now on.</summary>
    void Add(ListenerOwner owner);

    /// <summary>The owner takes no new work; when no owner does, the socket stops receiving (it stays open for replies).</summary>
    void StopAccepting(ListenerOwner owner);

    /// <summary>The owner lets go: its connections close; the last owner's release closes the socket.</summary>
    void Release(ListenerOwner owner);
}
