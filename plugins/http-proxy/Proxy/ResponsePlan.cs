namespace Gateway.Plugins.HttpProxy.Proxy;

/// <summary>What to do with a final response once its head has been forwarded.</summary>
internal struct ResponsePlan
{
    /// <summary>The status code; 0 when the head was invalid.</summary>
    public int Status;

    public ResponseFraming Framing;

    /// <summary>The body length for <see cref="ResponseFraming.Length"/>.</summary>
    public long Length;

    /// <summary>The origin keeps its connection open after this response.</summary>
    public bool OriginKeepAlive;

    /// <summary>The client connection ends after this response.</summary>
    public bool CloseClient;
}
