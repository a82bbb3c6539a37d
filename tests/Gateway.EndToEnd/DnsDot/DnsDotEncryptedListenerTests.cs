using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>
/// The published gateway serving DoT (<c>listenTls</c>, RFC 7858) and DoH (<c>listenHttps</c>, RFC 8484) beside its
/// plain listener, with a certificate from a test CA, forwarding to a real unbound over DoT. Clients: kdig +tls and
/// +https, curl for raw RFC 8484 GET and POST, and our own TLS client for pipelining.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DnsDotEncryptedListenerTests : IClassFixture<UnboundDotFixture>, IAsyncLifetime
{
    private const string ServerName = "dns.test";
    private static readonly TimeSpan KdigTimeout = TimeSpan.FromSeconds(30);
    private readonly UnboundDot _unbound;
    private ListenerCertificates _certificates = null!;
    private GatewayProcess _gateway = null!;
    private int _plain;
    private int _tls;
    private int _https;

    public DnsDotEncryptedListenerTests(UnboundDotFixture fixture) => _unbound = fixture.Unbound;

    public async Task InitializeAsync()
    {
        _certificates = new ListenerCertificates(ServerName);
        (_gateway, _plain, _tls, _https) = await StartAsync(_certificates, "denyClients: [127.0.3.0/24]");
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        _certificates.Dispose();
    }

    private async Task<(GatewayProcess Gateway, int Plain, int Tls, int Https)> StartAsync(ListenerCertificates certificates, string extra = "")
    {
        int plain = DnsDotGatewayProcessTests.FreePort();
        int tls = PrometheusText.FreePort();
        int https = PrometheusText.FreePort();
        string yaml = $"""
            dns-dot:
              listen: ["127.0.0.1:{plain}"]
              listenTls: ["127.0.0.1:{tls}"]
              listenHttps: ["127.0.0.1:{https}"]
              certFile: "{certificates.CertFile}"
              keyFile: "{certificates.KeyFile}"
              {extra}
              upstreams:
                - {"{"} address: "{_unbound.Address}", tlsName: "{UnboundDot.TlsName}", caFile: "{_unbound.CaFile}" {"}"}
            """;
        GatewayProcess gateway = await GatewayProcess.StartAsync(yaml);
        Assert.Contains($"dns-dot serving 127.0.0.1:{tls} (DNS over TLS)", gateway.Output);
        Assert.Contains($"dns-dot serving 127.0.0.1:{https} (DNS over HTTPS, /dns-query)", gateway.Output);
        return (gateway, plain, tls, https);
    }

    private Task<CommandResult> KdigAsync(string transport, params string[] args) => transport switch
    {
        "plain" => ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-p", _plain.ToString(), "+time=5", "+retry=0", .. args], KdigTimeout),
        "tls" => ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-p", _tls.ToString(), "+tls", $"+tls-ca={_certificates.CaFile}", $"+tls-hostname={ServerName}", "+time=5", "+retry=0", .. args], KdigTimeout),
        _ => ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-p", _https.ToString(), "+https", $"+tls-ca={_certificates.CaFile}", $"+tls-hostname={ServerName}", "+time=5", "+retry=0", .. args], KdigTimeout),
    };

    /// <summary>The answer section's records without TTLs (they age between the queries).</summary>
    private static string Answers(string kdig) =>
        string.Join('\n', Regex.Matches(kdig, @"^(\S+)\s+\d+\s+IN\s+(\S+)\s+(.+)$", RegexOptions.Multiline).Select(m => $"{m.Groups[1]} {m.Groups[2]} {m.Groups[3]}"));

    private static string Status(string kdig) => Regex.Match(kdig, @"->>HEADER<<- opcode: \w+; status: (\w+)").Groups[1].Value;

    [Theory]
    [InlineData("tls")]
    [InlineData("https")]
    public async Task Kdig_EncryptedListener_AnswersMatchThePlainListener(string transport)
    {
        foreach ((string name, string type) in new[] { ("a.test", "A"), ("a.test", "AAAA"), ("txt.test", "TXT"), ("c1.test", "A"), ("nosuch.test", "A"), ("big.test", "TXT") })
        {
            CommandResult plain = await KdigAsync("plain", "+tcp", name, type);
            CommandResult encrypted = await KdigAsync(transport, name, type);
            Assert.True(encrypted.ExitCode == 0, encrypted.Output);
            Assert.Equal(Status(plain.Output), Status(encrypted.Output));
            Assert.Equal(Answers(plain.Output), Answers(encrypted.Output));
            Assert.NotEqual("", Status(encrypted.Output));
        }

        Assert.Contains("10.0.0.1", (await KdigAsync(transport, "a.test", "A")).Output);
        Assert.Contains("status: NXDOMAIN", (await KdigAsync(transport, "nosuch.test", "A")).Output);
    }

    [Theory]
    [InlineData("GET", "--http2")]
    [InlineData("POST", "--http2")]
    [InlineData("GET", "--http1.1")]
    [InlineData("POST", "--http1.1")]
    public async Task Curl_Rfc8484GetAndPost_SameAnswerAsPlainWithCacheControl(string method, string version)
    {
        byte[] query = DnsDotClient.Query("a.test", 1, 0);
        string work = Path.Combine(_certificates.Directory, $"curl-{method}-{version.Trim('-')}");
        Directory.CreateDirectory(work);
        await File.WriteAllBytesAsync(Path.Combine(work, "query"), query);
        string url = $"https://{ServerName}:{_https}/dns-query";
        string common = $"curl -sS --fail {version} --cacert '{_certificates.CaFile}' --resolve {ServerName}:{_https}:127.0.0.1 -H 'accept: application/dns-message' -D '{work}/headers' -o '{work}/answer'";
        string command = method == "GET"
            ? $"{common} '{url}?dns={Convert.ToBase64String(query).TrimEnd('=').Replace('+', '-').Replace('/', '_')}'"
            : $"{common} -H 'content-type: application/dns-message' --data-binary '@{work}/query' '{url}'";
        CommandResult curl = await ProcessRunner.ShAsync(command, TimeSpan.FromSeconds(30));
        Assert.True(curl.ExitCode == 0, curl.Output);

        byte[] answer = await File.ReadAllBytesAsync(Path.Combine(work, "answer"));
        byte[]? plain = await DnsDotClient.UdpAsync(_plain, query, TimeSpan.FromSeconds(5));
        Assert.NotNull(plain);
        Assert.Equal(0, DnsDotClient.Rcode(answer));
        Assert.Equal(BinaryPrimitives.ReadUInt16BigEndian(plain.AsSpan(6)), BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(6)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(6)));
        Assert.Equal(new byte[] { 10, 0, 0, 1 }, answer.AsSpan(query.Length - 11 + 12, 4).ToArray());

        string headers = await File.ReadAllTextAsync(Path.Combine(work, "headers"));
        Assert.Matches(version == "--http2" ? "^HTTP/2 200" : "^HTTP/1.1 200", headers);
        Assert.Contains("content-type: application/dns-message", headers, StringComparison.OrdinalIgnoreCase);
        Match maxAge = Regex.Match(headers, @"cache-control: max-age=(\d+)", RegexOptions.IgnoreCase);
        Assert.True(maxAge.Success, headers);
        Assert.InRange(int.Parse(maxAge.Groups[1].Value), 1, 300);
    }

    [Fact]
    public async Task Curl_BadRequests_HttpErrors()
    {
        string baseCommand = $"curl -s -o /dev/null -w '%{{http_code}}' --cacert '{_certificates.CaFile}' --resolve {ServerName}:{_https}:127.0.0.1";
        Assert.Equal("404", (await ProcessRunner.ShAsync($"{baseCommand} https://{ServerName}:{_https}/other")).StdOut);
        Assert.Equal("400", (await ProcessRunner.ShAsync($"{baseCommand} 'https://{ServerName}:{_https}/dns-query?dns=***'")).StdOut);
        Assert.Equal("400", (await ProcessRunner.ShAsync($"{baseCommand} 'https://{ServerName}:{_https}/dns-query'")).StdOut);
        Assert.Equal("415", (await ProcessRunner.ShAsync($"{baseCommand} -H 'content-type: text/plain' --data-binary x https://{ServerName}:{_https}/dns-query")).StdOut);
        Assert.Equal("405", (await ProcessRunner.ShAsync($"{baseCommand} -X PUT https://{ServerName}:{_https}/dns-query")).StdOut);
        Assert.False(_gateway.HasExited);
    }

    [Fact]
    public async Task Dot_HundredQueriesPipelinedOnOneConnection_EachAnsweredOnIt()
    {
        (TcpClient tcp, SslStream tls) = await ConnectDotAsync();
        using (tcp)
        await using (tls)
        {
            await PipelineHundredAsync(tls);
        }
    }

    [Fact]
    public async Task Dot_PipelinedWhileOtherClientsStallMidHandshakeAndMidQuery_AllAnswered()
    {
        // Clients on every one of the gateway's epoll loops (round-robin) that stop halfway: a TLS record header of a
        // ClientHello and nothing more, or a handshake and then two bytes of a query. Neither may hold up a loop.
        var stalled = new List<IDisposable>();
        try
        {
            for (int i = 0; i < 8; i++)
            {
                var hello = new TcpClient();
                stalled.Add(hello);
                await hello.ConnectAsync(IPAddress.Loopback, _tls);
                await hello.GetStream().WriteAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 });

                (TcpClient tcp, SslStream tls) = await ConnectDotAsync();
                stalled.Add(tcp);
                stalled.Add(tls);
                await tls.WriteAsync(new byte[] { 0, 40, 0x12 });
                await tls.FlushAsync();
            }

            (TcpClient client, SslStream stream) = await ConnectDotAsync();
            using (client)
            await using (stream)
            {
                await PipelineHundredAsync(stream);
            }
        }
        finally
        {
            foreach (IDisposable client in stalled)
            {
                client.Dispose();
            }
        }

        Assert.False(_gateway.HasExited);
    }

    private async Task<(TcpClient Tcp, SslStream Tls)> ConnectDotAsync()
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _tls);
        using X509Certificate2 chain = LoadCa(_certificates.CaFile);
        var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, errors) =>
            errors == SslPolicyErrors.RemoteCertificateChainErrors && certificate is not null && VerifiesAgainst(new X509Certificate2(certificate), chain));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = ServerName, ApplicationProtocols = [new SslApplicationProtocol("dot")] }, timeout.Token);
        Assert.Equal("dot", tls.NegotiatedApplicationProtocol.ToString());
        return (tcp, tls);
    }

    // 100 queries in one write, half for a name unbound answers and half NXDOMAIN: each answered once, with its own id.
    private static async Task PipelineHundredAsync(SslStream tls)
    {
        var frames = new List<byte>();
        for (int i = 0; i < 100; i++)
        {
            byte[] query = DnsDotClient.Query(i % 2 == 0 ? "a.test" : $"p{i}.test", 1, (ushort)(5000 + i));
            frames.AddRange([(byte)(query.Length >> 8), (byte)query.Length, .. query]);
        }

        await tls.WriteAsync(frames.ToArray());
        var ids = new HashSet<int>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        byte[] prefix = new byte[2];
        while (ids.Count < 100)
        {
            await tls.ReadExactlyAsync(prefix, timeout.Token);
            byte[] answer = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
            await tls.ReadExactlyAsync(answer, timeout.Token);
            int id = DnsDotClient.Id(answer);
            Assert.InRange(id, 5000, 5099);
            Assert.Equal((id - 5000) % 2 == 0 ? 0 : 3, DnsDotClient.Rcode(answer));
            Assert.True(ids.Add(id), $"id {id} answered twice");
        }
    }

    [Theory]
    [InlineData("tls")]
    [InlineData("https")]
    public async Task Kdig_WrongCertificateNameOnTheClient_Fails(string transport)
    {
        string flag = transport == "tls" ? "+tls" : "+https";
        int port = transport == "tls" ? _tls : _https;
        CommandResult result = await ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-p", port.ToString(), flag, $"+tls-ca={_certificates.CaFile}", "+tls-hostname=wrong.test", "+time=5", "+retry=0", "a.test", "A"], KdigTimeout);
        Assert.DoesNotContain("10.0.0.1", result.Output);
        Assert.Contains("failed", result.Output, StringComparison.OrdinalIgnoreCase);

        CommandResult curl = await ProcessRunner.ShAsync($"curl -sS --cacert '{_certificates.CaFile}' --resolve wrong.test:{_https}:127.0.0.1 'https://wrong.test:{_https}/dns-query?dns=AAABAAABAAAAAAAAAWEEdGVzdAAAAQAB'", TimeSpan.FromSeconds(20));
        Assert.NotEqual(0, curl.ExitCode);
        Assert.Contains("SSL", curl.Output, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("tls")]
    [InlineData("https")]
    public async Task EncryptedListener_DeniedClient_Refused(string transport)
    {
        // denyClients: [127.0.3.0/24]: the ACL applies to DoT and DoH as to every transport.
        string flag = transport == "tls" ? "+tls" : "+https";
        int port = transport == "tls" ? _tls : _https;
        CommandResult result = await ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-b", "127.0.3.1", "-p", port.ToString(), flag, $"+tls-ca={_certificates.CaFile}", $"+tls-hostname={ServerName}", "+time=5", "+retry=0", "a.test", "A"], KdigTimeout);
        Assert.Contains("status: REFUSED", result.Output);
        Assert.DoesNotContain("10.0.0.1", result.Output);
    }

    [Fact]
    public async Task RenewedCertificateFile_ServedWithoutRestart()
    {
        using var certificates = new ListenerCertificates(ServerName);
        (GatewayProcess gateway, _, int tls, int https) = await StartAsync(certificates);
        await using (gateway)
        {
            string first = certificates.Serial;
            Assert.Equal(first, await ServedSerialAsync(tls, certificates.CaFile));
            Assert.Equal(first, await ServedSerialAsync(https, certificates.CaFile));

            certificates.Renew();
            string renewed = certificates.Serial;
            Assert.NotEqual(first, renewed);
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (await ServedSerialAsync(tls, certificates.CaFile) != renewed)
            {
                Assert.True(waited.Elapsed < TimeSpan.FromSeconds(15), "the renewed certificate is not served after 15 s");
                await Task.Delay(200);
            }

            Assert.Equal(renewed, await ServedSerialAsync(https, certificates.CaFile));
            Assert.Contains("10.0.0.1", (await ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-p", tls.ToString(), "+tls", $"+tls-ca={certificates.CaFile}", $"+tls-hostname={ServerName}", "+time=5", "+retry=0", "a.test", "A"], KdigTimeout)).Output);
            Assert.Contains($"certificate {certificates.CertFile} loaded", gateway.Output);
            Assert.False(gateway.HasExited);
        }
    }

    private static async Task<string> ServedSerialAsync(int port, string caFile)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        using X509Certificate2 ca = LoadCa(caFile);
        await using var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, errors) =>
            certificate is not null && (errors == SslPolicyErrors.None || (errors == SslPolicyErrors.RemoteCertificateChainErrors && VerifiesAgainst(new X509Certificate2(certificate), ca))));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = ServerName });
        return new X509Certificate2(tls.RemoteCertificate!).SerialNumber;
    }

    private static X509Certificate2 LoadCa(string caFile)
    {
        var collection = new X509Certificate2Collection();
        collection.ImportFromPemFile(caFile);
        return collection[0];
    }

    private static bool VerifiesAgainst(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        return chain.Build(certificate);
    }
}
