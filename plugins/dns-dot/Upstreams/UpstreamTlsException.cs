namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>The upstream's TLS identity was refused (name, trust, pin): nothing may be taken from it.</summary>
internal sealed class UpstreamTlsException : Exception
{
    /// <summary>Creates the exception; <paramref name="message"/> is the one-line reason for the log.</summary>
    public UpstreamTlsException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
