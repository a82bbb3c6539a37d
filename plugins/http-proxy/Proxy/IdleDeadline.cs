namespace Gateway.Plugins.HttpProxy.Proxy;

/// <summary>
/// One cancellation source per client connection, re-armed before each wait; firing it ends the
/// connection. Re-arming an existing timer costs no allocation, unlike a token source per read.
/// </summary>
internal readonly struct IdleDeadline
{
    private readonly CancellationTokenSource _source;
    private readonly TimeSpan _timeout;

    public IdleDeadline(CancellationTokenSource source, TimeSpan timeout)
    {
        _source = source;
        _timeout = timeout;
    }

    public CancellationToken Token => _source.Token;

    /// <summary>Restarts the countdown.</summary>
    public void Touch() => _source.CancelAfter(_timeout);
}
