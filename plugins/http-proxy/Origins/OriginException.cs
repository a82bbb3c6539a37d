namespace Gateway.Plugins.HttpProxy.Origins;

/// <summary>The origin could not be reached (502) or did not answer in time (504).</summary>
internal sealed class OriginException : Exception
{
    public OriginException(int status, string message)
        : base(message)
    {
        Status = status;
    }

    /// <summary>502 or 504.</summary>
    public int Status { get; }
}
