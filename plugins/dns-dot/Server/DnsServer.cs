using Gateway.Plugins.DnsDot.Configuration;
using Gateway.Plugins.DnsDot.Resolver;
using Gateway.Plugins.DnsDot.Security;
using Gateway.Plugins.DnsDot.Server.Epoll;
using Gateway.Plugins.DnsDot.Server.Https;
using Gateway.Plugins.DnsDot.Server.Tls;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Server;

/// <summary>
/// Everything dns-dot serves: the plain endpoints (<c>listen:</c>, <c>virtual:</c>, UDP and TCP), the encrypted ones
/// (<c>listenTls</c>/<c>virtualTls</c> DoT, <c>listenHttps</c>/<c>virtualHttps</c> DoH) with their certificate, and
/// the <see cref="ClientGate"/> every one of them admits clients through. The plain endpoints live as long as the
/// plugin (the host restarts it when they change); the encrypted ones and the certificate follow reloads.
/// </summary>
internal sealed class DnsServer : IAsyncDisposable
{
    /// <summary>The DoT port of default virtual endpoints (RFC 7858 §3.1).</summary>
    public const ushort TlsPort = 853;

    /// <summary>The DoH port of default virtual endpoints.</summary>
    public const ushort HttpsPort = 443;

    private readonly IPluginContext _context;
    private readonly DnsResolver _resolver;
    private readonly DnsDotMetrics _metrics;
    private readonly ILogger _logger;
    private readonly List<IDisposable> _plain = new();
    private readonly List<IDisposable> _encrypted = new();
    private readonly List<ServiceEndpoint> _plainEndpoints;

    // DoT and TCP client connections run on these (Linux), for as long as this server: the plugin's start to its stop
    // or unload (a reload rebinding DoT keeps them). Measured: BENCHMARKS.md "DoT on the plugin's own epoll loop".
    private readonly EpollLoopGroup? _loops = EpollLoopGroup.IsSupported ? new EpollLoopGroup("dns-dot") : null;
    private ListenerCertificate? _certificate;
    private DohServer? _doh;
    private EncryptedListeners _listeners = EncryptedListeners.None;

    private DnsServer(IPluginContext context, DnsResolver resolver, ClientGate gate, DnsDotMetrics metrics, ILogger logger, List<ServiceEndpoint> plainEndpoints)
    {
        _context = context;
        _resolver = resolver;
        Gate = gate;
        _metrics = metrics;
        _logger = logger;
        _plainEndpoints = plainEndpoints;
    }

    /// <summary>Client admission for every endpoint.</summary>
    public ClientGate Gate { get; }

    /// <summary>The listener certificate, when one is configured.</summary>
    public ListenerCertificate? Certificate => _certificate;

    /// <summary>What the encrypted listeners serve now (tests).</summary>
    public IReadOnlyList<ServiceEndpoint> EncryptedEndpoints => [.. _listeners.Tls, .. _listeners.Https];

    /// <summary>
    /// Binds every endpoint of <paramref name="options"/>. Throws (SocketException, PluginConfigException, IOException,
    /// CryptographicException) when one cannot be served; then nothing stays bound.
    /// </summary>
    public static DnsServer Start(IPluginContext context, DnsDotOptions options, DnsResolver resolver, DnsDotMetrics metrics, ILogger logger)
    {
        IReadOnlyList<IpPrefix> tunNetworks = context.Tun?.Addresses ?? [];
        var gate = new ClientGate(options, tunNetworks, metrics.Serving, logger);
        var endpoints = new List<ServiceEndpoint>(context.ConfiguredEndpoints);
        IConfiguration section = context.Configuration;
        if (context.Tun is not null && section.GetSection("virtual").Value is null && !section.GetSection("virtual").GetChildren().Any())
        {
            foreach (NetEndpoint endpoint in DnsDotPlugin.DefaultVirtualEndpoints)
            {
                endpoints.Add(new ServiceEndpoint(EndpointKind.Virtual, endpoint));
            }

            DnsDotLog.DefaultVirtual(logger, string.Join(", ", DnsDotPlugin.DefaultVirtualEndpoints));
        }

        var server = new DnsServer(context, resolver, gate, metrics, logger, endpoints);
        try
        {
            var datagrams = new DnsDatagramHandler(resolver, metrics, gate);
            var streams = new DnsStreamHandler(resolver, logger, metrics, gate, server._loops);
            foreach (ServiceEndpoint endpoint in endpoints)
            {
                server._plain.Add(context.BindDatagram(endpoint, datagrams));
                server._plain.Add(context.BindStream(endpoint, streams));
                DnsDotLog.Serving(logger, endpoint.ToString());
            }

            server.ApplyEncrypted(options, firstLoad: true);
            server.WarnIfOpen();
        }
        catch
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }

        return server;
    }

    /// <summary>
    /// A reload: the ACL and limits apply at once; encrypted listeners whose lists, certificate files or port changed
    /// are rebound. A listener that cannot be bound is reported (the rest keep serving).
    /// </summary>
    public void Apply(DnsDotOptions options)
    {
        Gate.Apply(options);
        ApplyEncrypted(options, firstLoad: false);
        WarnIfOpen();
    }

    /// <summary>Background upkeep (about once a second): a renewed certificate file is loaded.</summary>
    public void Maintain() => _certificate?.Refresh(_logger);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        foreach (IDisposable binding in _plain)
        {
            binding.Dispose();
        }

        _plain.Clear();
        await CloseEncryptedAsync().ConfigureAwait(false);

        // The loops' threads end; connections still on them fail their waits and close.
        _loops?.Dispose();
    }

    private void ApplyEncrypted(DnsDotOptions options, bool firstLoad)
    {
        EncryptedListeners next = EncryptedListeners.From(options, _context, _plainEndpoints);
        if (next == _listeners && (next.IsEmpty || _certificate is not null))
        {
            return;
        }

        CloseEncryptedAsync().AsTask().GetAwaiter().GetResult();
        if (next.IsEmpty)
        {
            return;
        }

        try
        {
            _certificate = ListenerCertificate.Load(DnsDotOptionsValidator.ResolvePath(_context.ConfigDirectory, options.CertFile!), DnsDotOptionsValidator.ResolvePath(_context.ConfigDirectory, options.KeyFile!));
            DnsDotLog.CertificateLoaded(_logger, _certificate.CertFile, _certificate.Leaf.Subject, _certificate.Leaf.NotAfter.ToUniversalTime());
            if (next.UsesDefaults)
            {
                DnsDotLog.DefaultVirtualEncrypted(_logger, string.Join(", ", next.Tls.Concat(next.Https).Where(e => e.Kind == EndpointKind.Virtual).Select(e => e.Endpoint)));
            }

            var tls = new DnsTlsStreamHandler(_resolver, _certificate, Gate, _logger, _metrics, _loops);
            foreach (ServiceEndpoint endpoint in next.Tls)
            {
                _encrypted.Add(_context.BindStream(endpoint, tls));
                DnsDotLog.ServingEncrypted(_logger, endpoint.ToString(), "DNS over TLS");
            }

            if (next.Https.Count > 0)
            {
                IStreamHandler https = StartDoh();
                foreach (ServiceEndpoint endpoint in next.Https)
                {
                    _encrypted.Add(_context.BindStream(endpoint, https));
                    DnsDotLog.ServingEncrypted(_logger, endpoint.ToString(), $"DNS over HTTPS, {DohApplication.Path}");
                }
            }

            _listeners = next;
        }
        catch (Exception e) when (!firstLoad && e is System.Net.Sockets.SocketException or IOException or System.Security.Cryptography.CryptographicException or InvalidOperationException or UnauthorizedAccessException)
        {
            CloseEncryptedAsync().AsTask().GetAwaiter().GetResult();
            DnsDotLog.ReloadFailed(_logger, $"DoT/DoH listeners not served: {e.Message}");
        }
    }

    // Kestrel comes from the ASP.NET Core shared framework; the host resolves it from the plugin's runtimeconfig.json
    // (a missing framework fails here with FileNotFoundException, reported like any listener that cannot start).
    private IStreamHandler StartDoh()
    {
        TimeSpan idle = _resolver.Snapshot.ClientIdleTimeout;

        // Kestrel's start binds our in-process transport only: nothing here waits on the network.
        _doh = DohServer.StartAsync(_resolver, _certificate!, Gate, _metrics, _context.LoggerFactory, _logger, idle, _loops).GetAwaiter().GetResult();
        return _doh.StreamHandler;
    }

    private async ValueTask CloseEncryptedAsync()
    {
        foreach (IDisposable binding in _encrypted)
        {
            binding.Dispose();
        }

        _encrypted.Clear();
        if (_doh is not null)
        {
            await _doh.DisposeAsync().ConfigureAwait(false);
            _doh = null;
        }

        _certificate = null;
        _listeners = EncryptedListeners.None;
    }

    // Issue 13: say so at start when a host socket faces the Internet and the ACL lets everyone in.
    private void WarnIfOpen()
    {
        if (!Gate.Acl.AdmitsAll)
        {
            return;
        }

        foreach (ServiceEndpoint endpoint in _plainEndpoints.Concat(_listeners.Tls).Concat(_listeners.Https))
        {
            if (endpoint.Kind == EndpointKind.HostSocket && ClientAcl.IsPublic(endpoint.Endpoint.Address))
            {
                DnsDotLog.OpenResolver(_logger, endpoint.ToString());
            }
        }
    }

    /// <summary>The encrypted endpoints one configuration asks for, compared by value on reload.</summary>
    private sealed record EncryptedListeners(IReadOnlyList<ServiceEndpoint> Tls, IReadOnlyList<ServiceEndpoint> Https, string? CertFile, string? KeyFile, bool UsesDefaults)
    {
        public static readonly EncryptedListeners None = new([], [], null, null, false);

        public bool IsEmpty => Tls.Count == 0 && Https.Count == 0;

        public static EncryptedListeners From(DnsDotOptions options, IPluginContext context, IReadOnlyList<ServiceEndpoint> plain)
        {
            bool haveCertificate = options.CertFile is not null && options.KeyFile is not null;
            bool defaults = false;
            List<ServiceEndpoint> Endpoints(List<string> listen, List<string>? virtualList, ushort port)
            {
                var endpoints = new List<ServiceEndpoint>();
                foreach (string text in listen)
                {
                    endpoints.Add(new ServiceEndpoint(EndpointKind.HostSocket, NetEndpoint.Parse(text)));
                }

                if (virtualList is { Count: > 0 })
                {
                    foreach (string text in virtualList)
                    {
                        endpoints.Add(new ServiceEndpoint(EndpointKind.Virtual, NetEndpoint.Parse(text)));
                    }
                }
                else if (virtualList is null && context.Tun is not null && haveCertificate)
                {
                    // The plain service's virtual addresses, on the encrypted port (10.30.30.30:853 and :443 by default).
                    foreach (ServiceEndpoint endpoint in plain)
                    {
                        if (endpoint.Kind == EndpointKind.Virtual)
                        {
                            endpoints.Add(new ServiceEndpoint(EndpointKind.Virtual, new NetEndpoint(endpoint.Endpoint.Address, port)));
                            defaults = true;
                        }
                    }
                }

                return endpoints;
            }

            List<ServiceEndpoint> tls = Endpoints(options.ListenTls, options.VirtualTls, TlsPort);
            List<ServiceEndpoint> https = Endpoints(options.ListenHttps, options.VirtualHttps, HttpsPort);
            return new EncryptedListeners(tls, https, options.CertFile, options.KeyFile, defaults);
        }

        public bool Equals(EncryptedListeners? other) =>
            other is not null && Tls.SequenceEqual(other.Tls) && Https.SequenceEqual(other.Https) && CertFile == other.CertFile && KeyFile == other.KeyFile;

        public override int GetHashCode() => HashCode.Combine(Tls.Count, Https.Count, CertFile, KeyFile);
    }
}
