namespace Gateway.Host.Configuration;

/// <summary>The configuration was rejected; <see cref="Errors"/> lists every problem found.</summary>
internal sealed class ConfigException : Exception
{
    public ConfigException(IReadOnlyList<ConfigError> errors)
        : base(errors.Count == 1 ? errors[0].ToString() : $"{errors.Count} configuration errors")
    {
        Errors = errors;
    }

    public ConfigException(ConfigError error)
        : this([error])
    {
    }

    /// <summary>Every problem, in file order where known.</summary>
    public IReadOnlyList<ConfigError> Errors { get; }
}
