using Gateway.EndToEnd.Infrastructure;
using Gateway.Plugins.DnsDot;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>Without a dns-dot section the plugin must stay idle.</summary>
public sealed class DnsDotIdleTests
{
    [Fact]
    public async Task StartAsync_SectionAbsent_BindsNothingAndConnectsNowhere()
    {
        await using var context = new LoopbackPluginContext("dns-dot", new Dictionary<string, string?>(), [], Path.GetTempPath());
        var plugin = new DnsDotPlugin();
        await plugin.StartAsync(context, CancellationToken.None);
        Assert.Equal(0, context.BindingCount);
        Assert.Empty(plugin.Upstreams);
        Assert.Contains(context.Logs, l => l.Contains("plugin idle"));
        await plugin.StopAsync(CancellationToken.None);
    }
}
