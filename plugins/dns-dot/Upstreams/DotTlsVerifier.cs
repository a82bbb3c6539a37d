using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Gateway.Plugins.DnsDot.Upstreams;

/// <summary>
/// RFC 8310 strict-profile verification of one tls:// or https:// upstream: chain to the system store or to <c>caFile</c>
/// (X509ChainPolicy custom trust), <c>tlsName</c> as SNI and as the name the certificate must carry,
/// and optional SPKI pins (RFC 7858 §4.2). Holds one <see cref="SslClientAuthenticationOptions"/> for all
/// connections so the BCL can resume TLS sessions for the same target host.
/// </summary>
internal sealed class DotTlsVerifier
{
    // The reason a handshake was refused, handed from the validation callback back to ConnectAsync.
    private static readonly AsyncLocal<StrongReason?> CurrentReason = new();
    private readonly byte[][] _pins;

    /// <summary>Creates the verifier.</summary>
    /// <param name="tlsName">The authentication domain name.</param>
    /// <param name="caCertificates">Custom trust anchors; null for the system store.</param>
    /// <param name="pins">SHA-256 SPKI pins (32 bytes each); empty for none.</param>
    public DotTlsVerifier(string tlsName, X509Certificate2Collection? caCertificates, byte[][] pins)
    {
        TlsName = tlsName;
        _pins = pins;
        Options = new SslClientAuthenticationOptions
        {
            TargetHost = tlsName,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = Validate,
        };
        if (caCertificates is not null)
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            policy.CustomTrustStore.AddRange(caCertificates);
            Options.CertificateChainPolicy = policy;
        }
    }

    /// <summary>The name the certificate must carry.</summary>
    public string TlsName { get; }

    /// <summary>
    /// Why the last refused certificate was refused (null until one was): for handshakes whose async flow the
    /// caller does not own (HttpClient opens DoH connections on its own).
    /// </summary>
    public string? LastRefusal { get; private set; }

    /// <summary>The shared client options (one instance: enables session resumption).</summary>
    public SslClientAuthenticationOptions Options { get; }

    /// <summary>Starts collecting the refusal reason for a handshake on the current async flow.</summary>
    public static StrongReason BeginHandshake()
    {
        var reason = new StrongReason();
        CurrentReason.Value = reason;
        return reason;
    }

    /// <summary>The base64 SHA-256 of a certificate's SubjectPublicKeyInfo.</summary>
    public static string SpkiPin(X509Certificate2 certificate) =>
        Convert.ToBase64String(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        string? reason = null;
        if ((errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0 || certificate is null)
        {
            reason = "server sent no certificate";
        }
        else if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            reason = $"certificate name mismatch (expected {TlsName})";
        }
        else if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0)
        {
            string status = chain is { ChainStatus.Length: > 0 } ? chain.ChainStatus[0].StatusInformation.Trim() : "chain error";
            reason = $"certificate not trusted ({status}; set caFile to the CA that signed it)";
        }
        else if (_pins.Length > 0 && !MatchesPin(certificate, chain))
        {
            using var leaf = new X509Certificate2(certificate);
            reason = $"SPKI pin mismatch (server key {SpkiPin(leaf)} is not in spkiPins)";
        }

        if (reason is not null)
        {
            LastRefusal = reason;
            if (CurrentReason.Value is { } box)
            {
                box.Reason = reason;
            }
        }

        return reason is null;
    }

    private bool MatchesPin(X509Certificate certificate, X509Chain? chain)
    {
        Span<byte> hash = stackalloc byte[32];
        if (chain is not null)
        {
            foreach (X509ChainElement element in chain.ChainElements)
            {
                if (Matches(element.Certificate, hash))
                {
                    return true;
                }
            }
        }

        using var leaf = new X509Certificate2(certificate);
        return Matches(leaf, hash);
    }

    private bool Matches(X509Certificate2 certificate, Span<byte> hash)
    {
        SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo(), hash);
        foreach (byte[] pin in _pins)
        {
            if (hash.SequenceEqual(pin))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A mutable holder for the refusal reason of one handshake.</summary>
    internal sealed class StrongReason
    {
        /// <summary>Why the certificate was refused; null when it was accepted.</summary>
        public string? Reason { get; set; }
    }
}
