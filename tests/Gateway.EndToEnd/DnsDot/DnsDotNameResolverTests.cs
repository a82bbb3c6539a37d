using System.Net;
using System.Net.Sockets;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>
/// dns-dot offers its resolver to the gateway (<c>IPluginContext.ProvideNameResolver</c>); a name asked through
/// <c>context.NameResolver</c> is answered by dns-dot's own pipeline from the real unbound upstream over DoT, and
/// cached there (the second lookup does not reach the upstream).
/// </summary>
public sealed class DnsDotNameResolverTests : IClassFixture<UnboundDotFixture>
{
    private readonly UnboundDot _unbound;

    public DnsDotNameResolverTests(UnboundDotFixture fixture) => _unbound = fixture.Unbound;

    [Fact]
    public async Task NameResolver_WhileRunning_AnswersThroughDnsDotAndItsCache_WithdrawnOnStop()
    {
        DnsDotUnboundTests.RunningPlugin gw = await DnsDotUnboundTests.StartPluginAsync(new Dictionary<string, string?>
        {
            ["upstreams:0:address"] = _unbound.Address,
            ["upstreams:0:tlsName"] = UnboundDot.TlsName,
            ["upstreams:0:caFile"] = _unbound.CaFile,
        });
        try
        {
            Assert.NotNull(gw.Context.ProvidedNameResolver);
            Sdk.Networking.INameResolver resolver = gw.Context.NameResolver;

            Assert.Equal([IPAddress.Parse("2001:db8::1"), IPAddress.Parse("10.0.0.1")], await resolver.ResolveAsync("a.test", AddressFamily.Unspecified, CancellationToken.None));
            long answered = gw.Plugin.Upstreams.Sum(u => u.Answered);
            Assert.Equal(2, answered);

            // Again: from dns-dot's cache, not from the upstream.
            Assert.Equal([IPAddress.Parse("10.0.0.1")], await resolver.ResolveAsync("A.TEST", AddressFamily.InterNetwork, CancellationToken.None));
            Assert.Equal(answered, gw.Plugin.Upstreams.Sum(u => u.Answered));

            SocketException missing = await Assert.ThrowsAsync<SocketException>(async () => await resolver.ResolveAsync("nosuch.test", AddressFamily.Unspecified, CancellationToken.None));
            Assert.Equal(SocketError.HostNotFound, missing.SocketErrorCode);
        }
        finally
        {
            await gw.Plugin.StopAsync(CancellationToken.None);
            Assert.Null(gw.Context.ProvidedNameResolver);
            await gw.Context.DisposeAsync();
        }
    }
}
