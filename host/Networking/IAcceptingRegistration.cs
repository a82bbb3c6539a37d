namespace Gateway.Host.Networking;

/// <summary>
/// A registration that can stop taking new work before it is disposed: a removed plugin drains (its open connections
/// finish) without accepting more (DESIGN §4).
/// </summary>
internal interface IAcceptingRegistration : IDisposable
{
    /// <summary>Takes no new connections or datagrams from now on; what is open keeps running until Dispose.</summary>
    void StopAccepting();
}
