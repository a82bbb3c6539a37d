namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>A query could not be answered by an upstream (connection lost, TLS refused, cap reached).</summary>
internal sealed class UpstreamException : Exception
{
    /// <summary>Creates the exception.</summary>
    public UpstreamException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
