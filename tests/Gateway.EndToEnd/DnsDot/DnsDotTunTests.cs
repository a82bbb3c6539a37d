using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>
/// The published gateway in a network namespace with the TUN enabled and no dns-dot endpoints configured:
/// dns-dot serves its default virtual endpoint 10.30.30.30:53 on the TUN, forwarding over DoT to an unbound
/// in the same namespace. kdig asks 10.30.30.30 from inside the namespace, over UDP and TCP.
/// </summary>
public sealed class DnsDotTunTests : IAsyncLifetime
{
    private static readonly TimeSpan KdigTimeout = TimeSpan.FromSeconds(30);
    private NetworkNamespace _ns = null!;
    private UnboundDot _unbound = null!;

    public async Task InitializeAsync()
    {
        _ns = await NetworkNamespace.CreateAsync("dnstun");
        _unbound = await UnboundDot.StartAsync(_ns);
    }

    public async Task DisposeAsync()
    {
        await _unbound.DisposeAsync();
        await _ns.DisposeAsync();
    }

    [Fact]
    public async Task Kdig_DefaultVirtualIpOnTun_AnswersOverUdpAndTcp()
    {
        string yaml = $"""
            host:
              tun: {"{"} enabled: true, name: "gwdns0", addresses: ["10.30.30.1/24"] {"}"}
            dns-dot:
              upstreams:
                - {"{"} address: "{_unbound.Address}", tlsName: "upstream.test", caFile: "{_unbound.CaFile}" {"}"}
            """;
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(yaml, _ns);
        foreach (string transport in new[] { "+notcp", "+tcp" })
        {
            string a = await KdigAsync(transport, "a.test", "A");
            Assert.Contains("status: NOERROR", a);
            Assert.Matches(@"a\.test\.\s+\d+\s+IN\s+A\s+10\.0\.0\.1", a);
            Assert.Matches(@"AAAA\s+2001:db8::1", await KdigAsync(transport, "a.test", "AAAA"));
            Assert.Contains("status: NXDOMAIN", await KdigAsync(transport, "nosuch.test", "A"));
        }

        Assert.Matches(@"Flags: qr [a-z ]*tc", await KdigAsync("+notcp", "+ignore", "+bufsize=1232", "big.test", "TXT"));
        Assert.Contains("record12-", await KdigAsync("+tcp", "big.test", "TXT"));
        Assert.False(gateway.HasExited, gateway.Output);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Kdig_DotAndDohOnDefaultVirtualIp_WhenACertificateIsConfigured()
    {
        using var certificates = new ListenerCertificates("dns.test");
        string yaml = $"""
            host:
              tun: {"{"} enabled: true, name: "gwdns1", addresses: ["10.30.30.1/24"] {"}"}
            dns-dot:
              certFile: "{certificates.CertFile}"
              keyFile: "{certificates.KeyFile}"
              upstreams:
                - {"{"} address: "{_unbound.Address}", tlsName: "upstream.test", caFile: "{_unbound.CaFile}" {"}"}
            """;
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(yaml, _ns);
        Assert.Contains("dns-dot serving virtual 10.30.30.30:853 (DNS over TLS)", gateway.Output);
        Assert.Contains("dns-dot serving virtual 10.30.30.30:443 (DNS over HTTPS, /dns-query)", gateway.Output);
        string dot = $"kdig @10.30.30.30 -p 853 +tls +tls-ca={certificates.CaFile} +tls-hostname=dns.test +time=5 +retry=1";
        string tls = (await _ns.ShAsync($"{dot} a.test A", KdigTimeout)).Output;
        Assert.Contains("status: NOERROR", tls);
        Assert.Matches(@"a\.test\.\s+\d+\s+IN\s+A\s+10\.0\.0\.1", tls);
        Assert.Contains("status: NXDOMAIN", (await _ns.ShAsync($"{dot} nosuch.test A", KdigTimeout)).Output);
        string https = (await _ns.ShAsync($"kdig @10.30.30.30 -p 443 +https +tls-ca={certificates.CaFile} +tls-hostname=dns.test +time=5 +retry=1 a.test AAAA", KdigTimeout)).Output;
        Assert.Matches(@"AAAA\s+2001:db8::1", https);
        Assert.False(gateway.HasExited, gateway.Output);
    }

    private async Task<string> KdigAsync(params string[] args)
    {
        CommandResult result = await _ns.ShAsync($"kdig @10.30.30.30 -p 53 +time=5 +retry=1 {string.Join(' ', args)}", KdigTimeout);
        return result.Output;
    }
}
