using Gateway.Host.Cli;
using Gateway.Host.Configuration;
using Gateway.Host.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Host.Plugins;

public sealed class PluginLoggerFactoryTests
{
    [Theory]
    [InlineData("probe-a", "probe-a")]
    [InlineData("probe-a.Relay", "probe-a.Relay")]
    [InlineData("Relay", "probe-a.Relay")]
    [InlineData("probe-ab", "probe-a.probe-ab")]
    public void CreateLogger_Category_IsThePluginIdOrPrefixedByIt(string asked, string expected)
    {
        var inner = new CategoryRecorder();

        new PluginLoggerFactory(inner, "probe-a").CreateLogger(asked);

        Assert.Equal([expected], inner.Categories);
    }

    [Fact]
    public void LogLevel_PluginSectionSaysDebug_OnlyThatPluginsCategoriesLogDebug()
    {
        var levels = new LevelSwitch(LogLevel.Information);

        _ = new PluginLoggerFactory(NullLoggerFactory.Instance, "probe-b", Section("debug"));

        Assert.True(levels.IsEnabled("probe-b", LogLevel.Debug));
        Assert.True(levels.IsEnabled("probe-b.Relay", LogLevel.Debug));
        Assert.False(levels.IsEnabled("probe-bc", LogLevel.Debug));
        Assert.False(levels.IsEnabled("Gateway.Host", LogLevel.Debug));
        Assert.True(levels.IsEnabled("Gateway.Host", LogLevel.Information));
    }

    [Fact]
    public void LogLevel_ReloadedToError_InfoNoLongerLogged()
    {
        var levels = new LevelSwitch(LogLevel.Information);
        IConfigurationRoot root = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["probe-c:logLevel"] = "info" }).Build();
        var section = new PluginConfigurationSection(root.GetSection("probe-c"));
        _ = new PluginLoggerFactory(NullLoggerFactory.Instance, "probe-c", section);
        Assert.True(levels.IsEnabled("probe-c", LogLevel.Information));

        root["probe-c:logLevel"] = "error";
        section.NotifyReload();
        Assert.False(levels.IsEnabled("probe-c", LogLevel.Information));

        root["probe-c:logLevel"] = null;
        section.NotifyReload();
        Assert.True(levels.IsEnabled("probe-c", LogLevel.Information));
    }

    [Fact]
    public void GatewayConfigReader_BadPluginLogLevel_ErrorAtTheKey()
    {
        var error = Assert.Single(Assert.Throws<ConfigException>(() =>
            GatewayConfigReader.Read(ConfigDocument.Parse("gateway.yaml", "probe:\n  logLevel: loud\n"), "/app")).Errors);

        Assert.Equal(("probe.logLevel", 2, "'loud' is not one of error, warn, info, debug"), (error.KeyPath, error.Line, error.Message));
    }

    private static IConfiguration Section(string level) =>
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["logLevel"] = level }).Build();

    private sealed class CategoryRecorder : ILoggerFactory
    {
        public List<string> Categories { get; } = [];

        public ILogger CreateLogger(string categoryName)
        {
            Categories.Add(categoryName);
            return NullLogger.Instance;
        }

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }
    }
}
