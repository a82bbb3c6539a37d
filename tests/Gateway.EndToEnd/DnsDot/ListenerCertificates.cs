using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>
/// A test CA and server certificates for the gateway's DoT and DoH listeners, as PEM files in a folder (the key
/// with mode 600, as the gateway demands). <see cref="Renew"/> replaces the pair in place, as certbot does.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed class ListenerCertificates : IDisposable
{
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 _ca;
    private int _serial;

    public ListenerCertificates(string name)
    {
        Name = name;
        Directory = System.IO.Directory.CreateTempSubdirectory("dns-dot-listener-").FullName;
        var request = new CertificateRequest("CN=dns-dot test CA", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        File.WriteAllText(CaFile, _ca.ExportCertificatePem() + "\n");
        Renew();
    }

    /// <summary>The name in the server certificate.</summary>
    public string Name { get; }

    public string Directory { get; }

    public string CaFile => Path.Combine(Directory, "ca.pem");

    public string CertFile => Path.Combine(Directory, "fullchain.pem");

    public string KeyFile => Path.Combine(Directory, "privkey.pem");

    /// <summary>The serial number (hex) of the certificate now in <see cref="CertFile"/>.</summary>
    public string Serial { get; private set; } = "";

    /// <summary>Writes a new key and certificate (next serial) over the files, key first, like a renewal.</summary>
    public void Renew()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={Name}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(Name);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        byte[] serial = [0x10, (byte)++_serial];
        using X509Certificate2 leaf = request.Create(_ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(20), serial);
        Serial = leaf.SerialNumber;

        // Written to temporary names and renamed over the old ones, each file in one step.
        string keyTemp = KeyFile + ".new";
        File.WriteAllText(keyTemp, key.ExportPkcs8PrivateKeyPem());
        File.SetUnixFileMode(keyTemp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(CertFile + ".new", leaf.ExportCertificatePem() + "\n" + _ca.ExportCertificatePem() + "\n");
        File.Move(keyTemp, KeyFile, overwrite: true);
        File.Move(CertFile + ".new", CertFile, overwrite: true);
    }

    public void Dispose()
    {
        _caKey.Dispose();
        _ca.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
