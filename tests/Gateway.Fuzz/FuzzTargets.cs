using Gateway.Fuzz.Targets;

namespace Gateway.Fuzz;

/// <summary>Every fuzz target, by name.</summary>
public static class FuzzTargets
{
    /// <summary>The targets in the order docs/fuzzing.md lists them.</summary>
    public static IReadOnlyList<IFuzzTarget> All { get; } =
    [
        new DnsMessageTarget(),
        new HttpHeadTarget(),
        new HttpChunkedTarget(),
        new PacketTarget(),
        new DispatchTarget(),
        new WireGuardReceiveTarget(),
        new UapiTarget(),
        new YamlConfigTarget(),
    ];

    /// <summary>The target named <paramref name="name"/>, or null.</summary>
    public static IFuzzTarget? Find(string name)
    {
        foreach (IFuzzTarget target in All)
        {
            if (string.Equals(target.Name, name, StringComparison.Ordinal))
            {
                return target;
            }
        }

        return null;
    }
}
