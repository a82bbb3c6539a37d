namespace Gateway.Host.Dispatch;

/// <summary>What to do with a packet read from the TUN.</summary>
internal enum DispatchAction : byte
{
    /// <summary>Drop it (the reason says why).</summary>
    Drop,

    /// <summary>It is for a virtual IP: answer it here.</summary>
    Virtual,

    /// <summary>Send it to a plugin's prefix route.</summary>
    Route,
}
