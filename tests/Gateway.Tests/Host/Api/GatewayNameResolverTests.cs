using System.Net;
using System.Net.Sockets;
using Gateway.Host.Networking;
using Gateway.Sdk.Networking;
using Xunit;

namespace Gateway.Tests.Host.Api;

public sealed class GatewayNameResolverTests
{
    [Fact]
    public async Task ResolveAsync_NoProvider_SystemResolverAnswersLiterals()
    {
        var resolver = new GatewayNameResolver();

        IReadOnlyList<IPAddress> addresses = await resolver.ResolveAsync("[::1]", AddressFamily.Unspecified, CancellationToken.None);

        Assert.Same(SystemNameResolver.Instance, resolver.Current);
        Assert.Equal([IPAddress.IPv6Loopback], addresses);
    }

    [Fact]
    public async Task Provide_NewestWins_DisposeFallsBack()
    {
        var resolver = new GatewayNameResolver();
        IDisposable first = resolver.Provide(new Fixed(IPAddress.Parse("192.0.2.1")));
        IDisposable second = resolver.Provide(new Fixed(IPAddress.Parse("192.0.2.2")));

        Assert.Equal("192.0.2.2", (await resolver.ResolveAsync("nas.home.test", AddressFamily.InterNetwork, default))[0].ToString());

        second.Dispose();
        Assert.Equal("192.0.2.1", (await resolver.ResolveAsync("nas.home.test", AddressFamily.InterNetwork, default))[0].ToString());

        first.Dispose();
        Assert.Same(SystemNameResolver.Instance, resolver.Current);
    }

    [Fact]
    public async Task SystemResolver_LiteralOfOtherFamily_Empty()
    {
        Assert.Empty(await SystemNameResolver.Instance.ResolveAsync("127.0.0.1", AddressFamily.InterNetworkV6, default));
    }

    private sealed class Fixed(IPAddress address) : INameResolver
    {
        public ValueTask<IReadOnlyList<IPAddress>> ResolveAsync(string host, AddressFamily family, CancellationToken cancellationToken) =>
            ValueTask.FromResult<IReadOnlyList<IPAddress>>([address]);
    }
}
