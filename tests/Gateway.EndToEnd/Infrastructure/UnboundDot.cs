using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Gateway.EndToEnd.Infrastructure;

/// <summary>
/// A real unbound serving DNS-over-TLS on a random loopback port — and plain DNS (UDP and TCP) and DNS over HTTPS
/// (RFC 8484, HTTP/2, path /dns-query) on two more — from local data only (never recursing,
/// as peers/lib/upstream.sh does), with a CA and an ECDSA P-256 server certificate for "upstream.test"
/// made by openssl. Zone "test.": a.test A/AAAA, mx.test MX, txt.test TXT, c1→c2→a CNAME chain, big.test
/// (12 TXT strings, ~3 KB), plus any extra records a test passes (so two instances can serve different data),
/// everything else NXDOMAIN. Can be stopped and started again on the same port.
/// </summary>
public sealed class UnboundDot : IAsyncDisposable
{
    /// <summary>The name in the server certificate.</summary>
    public const string TlsName = "upstream.test";

    private readonly IReadOnlyList<string> _extraRecords;
    private BackgroundProcess? _process;

    private UnboundDot(string directory, int port, int plainPort, int httpsPort, IReadOnlyList<string> extraRecords)
    {
        Directory = directory;
        Port = port;
        PlainPort = plainPort;
        HttpsPort = httpsPort;
        _extraRecords = extraRecords;
    }

    /// <summary>The plain DNS port (UDP and TCP) on 127.0.0.1.</summary>
    public int PlainPort { get; }

    /// <summary>The DoH port on 127.0.0.1 (https://upstream.test:port/dns-query with <see cref="CaFile"/>).</summary>
    public int HttpsPort { get; }

    /// <summary>"udp://127.0.0.1:port".</summary>
    public string UdpUrl => $"udp://127.0.0.1:{PlainPort}";

    /// <summary>"tcp://127.0.0.1:port".</summary>
    public string TcpUrl => $"tcp://127.0.0.1:{PlainPort}";

    /// <summary>"https://127.0.0.1:port/dns-query" (needs tlsName upstream.test).</summary>
    public string HttpsUrl => $"https://127.0.0.1:{HttpsPort}/dns-query";

    /// <summary>The working folder (certificates, config, log).</summary>
    public string Directory { get; }

    /// <summary>The DoT port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>"127.0.0.1:port".</summary>
    public string Address => $"127.0.0.1:{Port}";

    /// <summary>The CA that signed the server certificate.</summary>
    public string CaFile => Path.Combine(Directory, "ca.pem");

    /// <summary>Another CA, which did not sign anything here (for "untrusted CA" tests).</summary>
    public string OtherCaFile => Path.Combine(Directory, "other-ca.pem");

    /// <summary>The base64 SHA-256 SPKI pin of the server key.</summary>
    public string SpkiPin { get; private set; } = "";

    private NetworkNamespace? _netns;

    /// <summary>True while unbound runs.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Creates certificates and config and starts unbound on the host's loopback; waits until it answers over TLS.</summary>
    /// <param name="extraRecords">
    /// More records under "test." in zone-file form, served besides the fixed ones
    /// (e.g. <c>"intranet.corp.test. 300 IN A 10.9.9.9"</c>).
    /// </param>
    public static Task<UnboundDot> StartAsync(IReadOnlyList<string> extraRecords) => StartAsync(null, extraRecords);

    /// <summary>
    /// Creates certificates and config and starts unbound (on 127.0.0.1 of <paramref name="netns"/> when given,
    /// else of the host); waits until it answers over TLS.
    /// </summary>
    /// <param name="netns">Run inside this namespace.</param>
    /// <param name="extraRecords">More records under "test." in zone-file form.</param>
    public static async Task<UnboundDot> StartAsync(NetworkNamespace? netns = null, IReadOnlyList<string>? extraRecords = null)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"unbound-dot-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(directory);
        int port = netns is null ? FreePort() : NetworkNamespace.RandomPort();
        int plainPort = netns is null ? FreePort(udpToo: true) : NetworkNamespace.RandomPort();
        int httpsPort = netns is null ? FreePort() : NetworkNamespace.RandomPort();
        var unbound = new UnboundDot(directory, port, plainPort, httpsPort, extraRecords ?? []) { _netns = netns };
        await unbound.CreateCertificatesAsync();
        unbound.WriteConfig();
        await ProcessRunner.ShCheckedAsync($"unbound-checkconf '{Path.Combine(directory, "unbound.conf")}'");
        await unbound.RestartAsync();
        return unbound;
    }

    /// <summary>Starts unbound again (after <see cref="StopAsync"/>) on the same port.</summary>
    public async Task RestartAsync()
    {
        string[] arguments = ["-d", "-c", Path.Combine(Directory, "unbound.conf")];
        _process = _netns is null
            ? BackgroundProcess.Start("unbound", arguments, name: $"unbound:{Port}")
            : _netns.Start("unbound", arguments, name: $"unbound:{Port}");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            string kdig = $"kdig @127.0.0.1 -p {Port} +tls '+tls-ca={CaFile}' +tls-hostname={TlsName} +time=1 +retry=0 +short a.test A";
            CommandResult r = _netns is null ? await ProcessRunner.ShAsync(kdig, TimeSpan.FromSeconds(5)) : await _netns.ShAsync(kdig, TimeSpan.FromSeconds(5));
            if (r.StdOut.Trim() == "10.0.0.1")
            {
                return;
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"unbound exited {_process.ExitCode}: {_process.Output} {ReadLog()}");
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"unbound on {Port} did not answer over TLS: {_process.Output} {ReadLog()}");
    }

    /// <summary>Kills unbound (SIGTERM, then SIGKILL).</summary>
    public async Task StopAsync()
    {
        if (_process is not null)
        {
            await _process.StopAsync(TimeSpan.FromSeconds(5));
            await _process.DisposeAsync();
            _process = null;
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string ReadLog()
    {
        string log = Path.Combine(Directory, "unbound.log");
        return File.Exists(log) ? File.ReadAllText(log) : "";
    }

    private async Task CreateCertificatesAsync()
    {
        string d = Directory;
        string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        await ProcessRunner.ShCheckedAsync(
            $"cd '{d}' && " +
            $"openssl req -x509 {ec} -keyout ca.key -out ca.pem -days 30 -subj '/CN=gateway test CA' -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' && " +
            $"openssl req -x509 {ec} -keyout other-ca.key -out other-ca.pem -days 30 -subj '/CN=unrelated CA' -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' && " +
            $"openssl req {ec} -keyout server.key -out server.csr -subj '/CN={TlsName}' && " +
            $"printf 'subjectAltName=DNS:{TlsName}\\nbasicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=serverAuth\\n' > server.ext && " +
            "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 30 -extfile server.ext 2>/dev/null && chmod 644 *.pem *.key",
            TimeSpan.FromSeconds(60));
        using X509Certificate2 server = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(d, "server.pem")));
        SpkiPin = Convert.ToBase64String(SHA256.HashData(server.PublicKey.ExportSubjectPublicKeyInfo()));
    }

    private void WriteConfig()
    {
        var big = new StringBuilder();
        for (int i = 1; i <= 12; i++)
        {
            big.Append($"    local-data: 'big.test. 3600 IN TXT \"record{i:D2}-{new string('0', 240)}\"'\n");
        }

        foreach (string record in _extraRecords)
        {
            big.Append($"    local-data: '{record}'\n");
        }

        string d = Directory;
        string config = $"""
            server:
                verbosity: 1
                num-threads: 1
                interface: 127.0.0.1@{Port}
                interface: 127.0.0.1@{PlainPort}
                interface: 127.0.0.1@{HttpsPort}
                port: {PlainPort}
                tls-port: {Port}
                https-port: {HttpsPort}
                http-endpoint: "/dns-query"
                tls-service-key: "{d}/server.key"
                tls-service-pem: "{d}/server.pem"
                do-ip4: yes
                do-ip6: no
                do-udp: yes
                do-tcp: yes
                access-control: 127.0.0.0/8 allow
                username: ""
                chroot: ""
                directory: "{d}"
                pidfile: "{d}/unbound.pid"
                use-syslog: no
                logfile: "{d}/unbound.log"
                module-config: "iterator"
                outgoing-interface: 127.0.0.1
                do-not-query-localhost: yes
                outgoing-range: 64
                incoming-num-tcp: 256
                tcp-idle-timeout: 30000
                edns-tcp-keepalive: yes
                edns-tcp-keepalive-timeout: 30000
                ratelimit: 0
                ip-ratelimit: 0
                local-zone: "." static
                local-zone: "test." static
                local-data: "test. 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60"
                local-data: "test. 3600 IN NS ns.test."
                local-data: "ns.test. 3600 IN A 127.0.0.1"
                local-data: "a.test. 300 IN A 10.0.0.1"
                local-data: "a.test. 300 IN AAAA 2001:db8::1"
                local-data: "mx.test. 300 IN MX 10 a.test."
                local-data: 'txt.test. 300 IN TXT "dot peers upstream"'
                local-data: "c1.test. 300 IN CNAME c2.test."
                local-data: "c2.test. 300 IN CNAME a.test."
            {big}
            remote-control:
                control-enable: no
            """;
        File.WriteAllText(Path.Combine(d, "unbound.conf"), config);
    }

    private static int FreePort(bool udpToo = false)
    {
        for (int attempt = 0; ; attempt++)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (!udpToo)
            {
                return port;
            }

            try
            {
                using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException) when (attempt < 20)
            {
            }
        }
    }
}
