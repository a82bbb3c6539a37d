using System.Net;
using System.Net.Sockets;
using Gateway.Sdk.Networking;

namespace Gateway.Tests.Sdk;

public sealed class HostPortTests
{
    [Theory]
    [InlineData("example.test:443", "example.test", 443)]
    [InlineData("Mixed.Case.TEST.:8080", "mixed.case.test", 8080)]
    [InlineData("10.0.0.5:80", "10.0.0.5", 80)]
    [InlineData("[fd00::5]:53", "fd00::5", 53)]
    [InlineData("_srv-name.example:1", "_srv-name.example", 1)]
    public void TryParse_HostPort_HostAndPort(string text, string host, int port)
    {
        Assert.True(HostPort.TryParse(text, out HostPort parsed));
        Assert.Equal(new HostPort(host, (ushort)port), parsed);
    }

    [Theory]
    [InlineData("example.test")]
    [InlineData("example.test:0")]
    [InlineData("example.test:65536")]
    [InlineData("fd00::5:53")]
    [InlineData("-bad.example:1")]
    [InlineData("a..b:1")]
    [InlineData("1.2.3:80")]
    [InlineData("sp ace.test:80")]
    [InlineData(":80")]
    public void TryParse_NotHostPort_False(string text)
    {
        Assert.False(HostPort.TryParse(text, out _));
    }

    [Fact]
    public void ToString_IPv6_Bracketed()
    {
        Assert.Equal("[fd00::5]:53", HostPort.Parse("[fd00::5]:53").ToString());
    }

    [Fact]
    public async Task ResolveAsync_Name_AsksTheGivenResolverNotTheSystem()
    {
        var resolver = new FixedResolver(IPAddress.Parse("192.0.2.7"), IPAddress.Parse("2001:db8::7"));

        IReadOnlyList<NetEndpoint> endpoints = await HostPort.Parse("svc.internal.test:8443").ResolveAsync(resolver, CancellationToken.None);

        Assert.Equal(["192.0.2.7:8443", "[2001:db8::7]:8443"], endpoints.Select(e => e.ToString()));
        Assert.Equal(["svc.internal.test"], resolver.Asked);
        Assert.Equal(NetEndpoint.Parse("192.0.2.7:8443"), await NetEndpoint.ResolveAsync("svc.internal.test:8443", resolver, CancellationToken.None));
    }

    [Fact]
    public async Task ResolveAsync_Literal_NoResolverCall()
    {
        var resolver = new FixedResolver();

        Assert.Equal([NetEndpoint.Parse("10.1.2.3:22")], await HostPort.Parse("10.1.2.3:22").ResolveAsync(resolver, CancellationToken.None));
        Assert.Empty(resolver.Asked);
    }

    [Fact]
    public async Task ConnectAsync_FirstAddressRefuses_ConnectsToTheNext()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var prepared = new List<Socket>();

        // 127.0.0.2 is loopback too, but nothing listens there: refused at once.
        var resolver = new FixedResolver(IPAddress.Parse("127.0.0.2"), IPAddress.Loopback);
        using Socket connected = await new HostPort("two.addresses.test", (ushort)port).ConnectAsync(resolver, TimeSpan.FromSeconds(5), prepared.Add, CancellationToken.None);

        Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), connected.RemoteEndPoint);
        Assert.Equal(2, prepared.Count);
    }

    [Fact]
    public async Task ConnectAsync_NothingListens_ThrowsRefused()
    {
        var resolver = new FixedResolver(IPAddress.Parse("127.0.0.2"));

        SocketException error = await Assert.ThrowsAsync<SocketException>(() =>
            new HostPort("nobody.test", 9).ConnectAsync(resolver, TimeSpan.FromSeconds(5), null, CancellationToken.None));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
    }

    private sealed class FixedResolver(params IPAddress[] addresses) : INameResolver
    {
        public List<string> Asked { get; } = [];

        public ValueTask<IReadOnlyList<IPAddress>> ResolveAsync(string host, AddressFamily family, CancellationToken cancellationToken)
        {
            Asked.Add(host);
            return ValueTask.FromResult<IReadOnlyList<IPAddress>>(addresses);
        }
    }
}
