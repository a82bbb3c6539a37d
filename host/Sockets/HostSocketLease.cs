using Gateway.Host.Networking;

namespace Gateway.Host.Sockets;

/// <summary>
/// What a plugin holds for a host socket binding (returned through <c>IPluginContext.BindDatagram/BindStream</c>):
/// disposing it lets go of the socket — closing it when no other version of the plugin still owns it.
/// </summary>
internal sealed class HostSocketLease(IHostListener listener, ListenerOwner owner) : IAcceptingRegistration
{
    private int _disposed;

    public IHostListener Listener { get; } = listener;

    /// <inheritdoc/>
    public void StopAccepting() => Listener.StopAccepting(owner);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Listener.Release(owner);
        }
    }
}
