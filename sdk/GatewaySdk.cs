namespace Gateway.Sdk;

/// <summary>Version information of the Gateway SDK, the only assembly shared by the host and its plugins.</summary>
public static class GatewaySdk
{
    /// <summary>
    /// The SDK major version. A plugin compiled against an SDK whose major version is greater than
    /// the host's is refused at load time with a message naming both versions.
    /// </summary>
    public const int MajorVersion = 1;

    /// <summary>The full SDK version of this assembly.</summary>
    public static Version Version { get; } = typeof(GatewaySdk).Assembly.GetName().Version ?? new Version(MajorVersion, 0);
}
