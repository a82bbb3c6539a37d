using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Server.Tls;

/// <summary>
/// The certificate of the DoT and DoH listeners (<c>certFile</c>/<c>keyFile</c>, PEM), re-read when either file
/// changes so a renewal (certbot replaces the files, or the links in live/) is served without a restart.
/// Handshakes take the current <see cref="SslStreamCertificateContext"/> (leaf, intermediates, key): one object per
/// certificate, so the TLS library's session cache — and with it session resumption — spans all connections.
/// </summary>
internal sealed class ListenerCertificate
{
    private readonly string _certFile;
    private readonly string _keyFile;
    private byte[] _certBytes;
    private byte[] _keyBytes;
    private SslStreamCertificateContext _context;

    private ListenerCertificate(string certFile, string keyFile, byte[] certBytes, byte[] keyBytes, SslStreamCertificateContext context)
    {
        _certFile = certFile;
        _keyFile = keyFile;
        _certBytes = certBytes;
        _keyBytes = keyBytes;
        _context = context;
    }

    /// <summary>The certificate file (for messages).</summary>
    public string CertFile => _certFile;

    /// <summary>The context handshakes use now.</summary>
    public SslStreamCertificateContext Context => Volatile.Read(ref _context);

    /// <summary>The leaf certificate served now.</summary>
    public X509Certificate2 Leaf => Context.TargetCertificate;

    /// <summary>Loads the pair; throws (IOException, CryptographicException, InvalidDataException) with a reason when it cannot be used.</summary>
    public static ListenerCertificate Load(string certFile, string keyFile)
    {
        byte[] cert = File.ReadAllBytes(certFile);
        byte[] key = File.ReadAllBytes(keyFile);
        return new ListenerCertificate(certFile, keyFile, cert, key, Build(cert, key));
    }

    /// <summary>
    /// Re-reads both files; when either changed and the new pair is usable, later handshakes serve it (true).
    /// A pair that cannot be used (a renewal caught half-written, a key that does not match) is logged and the
    /// current certificate kept; it is tried again at the next call.
    /// </summary>
    public bool Refresh(ILogger logger)
    {
        byte[] cert;
        byte[] key;
        try
        {
            cert = File.ReadAllBytes(_certFile);
            key = File.ReadAllBytes(_keyFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        if (cert.AsSpan().SequenceEqual(_certBytes) && key.AsSpan().SequenceEqual(_keyBytes))
        {
            return false;
        }

        try
        {
            SslStreamCertificateContext context = Build(cert, key);
            Volatile.Write(ref _context, context);
            DnsDotLog.CertificateLoaded(logger, _certFile, context.TargetCertificate.Subject, context.TargetCertificate.NotAfter.ToUniversalTime());
        }
        catch (Exception e) when (e is CryptographicException or InvalidDataException or ArgumentException)
        {
            DnsDotLog.CertificateReloadFailed(logger, _certFile, e.Message);
        }

        // Either way these bytes were seen: a broken pair is reported once, not every second.
        _certBytes = cert;
        _keyBytes = key;
        return true;
    }

    /// <summary>Server options for one handshake: the current certificate, TLS 1.2 and 1.3, the given ALPN protocols.</summary>
    public SslServerAuthenticationOptions ServerOptions(List<SslApplicationProtocol> applicationProtocols) => new()
    {
        ServerCertificateContext = Context,
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        ApplicationProtocols = applicationProtocols,
        ClientCertificateRequired = false,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        AllowTlsResume = true,
    };

    private static SslStreamCertificateContext Build(byte[] certPem, byte[] keyPem)
    {
        string certText = System.Text.Encoding.ASCII.GetString(certPem);
        string keyText = System.Text.Encoding.ASCII.GetString(keyPem);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(certText);
        if (chain.Count == 0)
        {
            throw new InvalidDataException("the certificate file holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }

        // The first certificate is the leaf (certbot's fullchain.pem, openssl's usual order); the rest are sent as
        // the chain. CreateFromPem pairs the leaf with its key and fails when they do not match.
        X509Certificate2 leaf = X509Certificate2.CreateFromPem(certText, keyText);
        var intermediates = new X509Certificate2Collection();
        for (int i = 1; i < chain.Count; i++)
        {
            intermediates.Add(chain[i]);
        }

        return SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
    }
}
