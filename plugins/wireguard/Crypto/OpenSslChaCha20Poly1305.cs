using System.Runtime.InteropServices;

namespace Gateway.Plugins.WireGuard.Crypto;

/// <summary>
/// ChaCha20-Poly1305 (RFC 8439) for the data path, straight from OpenSSL's libcrypto (EVP): one cipher context per
/// key and direction, the key schedule set once, four calls per message (set the nonce, update, final, tag).
/// <para>
/// WHY not NSec (libsodium) or the BCL here: on this machine's AVX2 cores libsodium 1.0.22 sealed a 1420-byte packet
/// in 1.69 µs of CPU (its ChaCha20 and its Poly1305 are two passes), OpenSSL 3's EVP in 0.9–1.0 µs (AVX2 ChaCha20
/// and Poly1305), and wireguard-go's Go assembly took about 1.0 µs in a profile of the same run; the crypto was about
/// half of the sending thread and 60 % of the receiving one (BENCHMARKS.md, WireGuard issue 21). The BCL's
/// <see cref="System.Security.Cryptography.ChaCha20Poly1305"/> uses the same OpenSSL but re-creates the cipher
/// state on every call, which cost as much as libsodium's slower code (issue 19's table). Where libcrypto cannot be
/// loaded (Windows, a system without OpenSSL 3 or 1.1), <see cref="TryCreate"/> returns null and the caller keeps
/// NSec.
/// </para>
/// <para>
/// A context is not thread-safe: every call runs under this instance's lock (uncontended on the data path: one thread
/// seals for a keypair at a time, another opens). <see cref="Dispose"/> frees the context under the same lock, so a
/// thread still sealing with an erased keypair finishes first and later calls fail cleanly; OpenSSL cleanses the key
/// schedule when the context is freed.
/// </para>
/// </summary>
internal sealed unsafe class OpenSslChaCha20Poly1305 : IDisposable
{
    /// <summary>The key size in bytes.</summary>
    public const int KeySize = 32;

    /// <summary>The nonce size in bytes.</summary>
    public const int NonceSize = 12;

    /// <summary>The tag size in bytes.</summary>
    public const int TagSize = 16;

    private const int CtrlAeadGetTag = 0x10;
    private const int CtrlAeadSetTag = 0x11;

    private static readonly Api? Native = Api.TryLoad();

    private readonly Lock _lock = new();
    private readonly Api _api;
    private readonly bool _encrypt;
    private nint _ctx;

    private OpenSslChaCha20Poly1305(Api api, nint ctx, bool encrypt)
    {
        _api = api;
        _ctx = ctx;
        _encrypt = encrypt;
    }

    /// <summary>True when libcrypto was found and has ChaCha20-Poly1305.</summary>
    public static bool IsSupported => Native is not null;

    /// <summary>
    /// A context that seals (<paramref name="encrypt"/>) or opens with <paramref name="key"/>; null when OpenSSL is
    /// not available or refuses the key.
    /// </summary>
    public static OpenSslChaCha20Poly1305? TryCreate(ReadOnlySpan<byte> key, bool encrypt) =>
        Native is { } api ? Create(api, key, encrypt) : null;

    private static OpenSslChaCha20Poly1305? Create(Api api, ReadOnlySpan<byte> key, bool encrypt)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(key.Length, KeySize);

        nint ctx = api.CtxNew();
        if (ctx == 0)
        {
            return null;
        }

        fixed (byte* k = key)
        {
            if (api.CipherInitEx(ctx, api.Cipher, 0, k, null, encrypt ? 1 : 0) != 1)
            {
                api.CtxFree(ctx);
                return null;
            }
        }

        return new OpenSslChaCha20Poly1305(api, ctx, encrypt);
    }

    /// <summary>
    /// Encrypts <paramref name="plaintext"/> into <paramref name="destination"/> (ciphertext, then the 16-byte tag;
    /// in place when the plaintext is its first bytes). False when this context was disposed or OpenSSL failed.
    /// </summary>
    public bool Seal(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        if (!_encrypt || nonce.Length != NonceSize || destination.Length < plaintext.Length + TagSize)
        {
            throw new ArgumentException("bad nonce or destination size, or a context that opens");
        }

        Api api = _api;
        lock (_lock)
        {
            nint ctx = _ctx;
            if (ctx == 0)
            {
                return false;
            }

            fixed (byte* n = nonce)
            fixed (byte* p = plaintext)
            fixed (byte* d = destination)
            {
                int written = 0;
                int tail = 0;
                return api.CipherInitEx(ctx, 0, 0, null, n, -1) == 1 &&
                       (plaintext.IsEmpty || api.CipherUpdate(ctx, d, &written, p, plaintext.Length) == 1) &&
                       api.CipherFinalEx(ctx, d + written, &tail) == 1 &&
                       api.CipherCtxCtrl(ctx, CtrlAeadGetTag, TagSize, d + plaintext.Length) == 1;
            }
        }
    }

    /// <summary>
    /// Decrypts <paramref name="sealedText"/> (ciphertext then tag) into <paramref name="plaintext"/> (in place when
    /// it is the ciphertext's own bytes). False for a forgery, a disposed context or an OpenSSL failure; the
    /// plaintext bytes are then garbage and must be dropped.
    /// </summary>
    public bool Open(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> sealedText, Span<byte> plaintext)
    {
        int length = sealedText.Length - TagSize;
        if (_encrypt || nonce.Length != NonceSize || length < 0 || plaintext.Length < length)
        {
            throw new ArgumentException("bad nonce or sizes, or a context that seals");
        }

        Api api = _api;
        lock (_lock)
        {
            nint ctx = _ctx;
            if (ctx == 0)
            {
                return false;
            }

            fixed (byte* n = nonce)
            fixed (byte* s = sealedText)
            fixed (byte* p = plaintext)
            {
                int written = 0;
                int tail = 0;
                return api.CipherInitEx(ctx, 0, 0, null, n, -1) == 1 &&
                       (length == 0 || api.CipherUpdate(ctx, p, &written, s, length) == 1) &&
                       api.CipherCtxCtrl(ctx, CtrlAeadSetTag, TagSize, s + length) == 1 &&
                       api.CipherFinalEx(ctx, p + written, &tail) == 1;
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_ctx != 0)
            {
                _api.CtxFree(_ctx);
                _ctx = 0;
            }
        }
    }

    /// <summary>The libcrypto entry points, resolved once.</summary>
    private sealed class Api
    {
        // Short calls (no work proportional to the message) skip the GC transition; the update call does the bulk
        // of the work (up to 64 KiB) and keeps it, so a GC is never held up by more than a few hundred nanoseconds.
        public delegate* unmanaged[SuppressGCTransition]<nint> CtxNew;
        public delegate* unmanaged[SuppressGCTransition]<nint, void> CtxFree;
        public delegate* unmanaged[SuppressGCTransition]<nint, nint, nint, byte*, byte*, int, int> CipherInitEx;
        public delegate* unmanaged<nint, byte*, int*, byte*, int, int> CipherUpdate;
        public delegate* unmanaged[SuppressGCTransition]<nint, byte*, int*, int> CipherFinalEx;
        public delegate* unmanaged[SuppressGCTransition]<nint, int, int, byte*, int> CipherCtxCtrl;
        public nint Cipher;

        public static Api? TryLoad()
        {
            if (!OperatingSystem.IsLinux() ||
                Environment.GetEnvironmentVariable("GATEWAY_WIREGUARD_AEAD") is "nsec")
            {
                return null;
            }

            // The same library the BCL's System.Security.Cryptography.Native.OpenSsl shim loads on Linux.
            foreach (string name in (ReadOnlySpan<string>)["libcrypto.so.3", "libcrypto.so.1.1"])
            {
                if (!NativeLibrary.TryLoad(name, out nint lib))
                {
                    continue;
                }

                var api = new Api();
                if (api.Bind(lib))
                {
                    return api;
                }
            }

            return null;
        }

        private bool Bind(nint lib)
        {
            if (!NativeLibrary.TryGetExport(lib, "EVP_chacha20_poly1305", out nint cipherFn) ||
                !NativeLibrary.TryGetExport(lib, "EVP_CIPHER_CTX_new", out nint ctxNew) ||
                !NativeLibrary.TryGetExport(lib, "EVP_CIPHER_CTX_free", out nint ctxFree) ||
                !NativeLibrary.TryGetExport(lib, "EVP_CipherInit_ex", out nint init) ||
                !NativeLibrary.TryGetExport(lib, "EVP_CipherUpdate", out nint update) ||
                !NativeLibrary.TryGetExport(lib, "EVP_CipherFinal_ex", out nint final) ||
                !NativeLibrary.TryGetExport(lib, "EVP_CIPHER_CTX_ctrl", out nint ctrl))
            {
                return false;
            }

            Cipher = ((delegate* unmanaged<nint>)cipherFn)();
            CtxNew = (delegate* unmanaged[SuppressGCTransition]<nint>)ctxNew;
            CtxFree = (delegate* unmanaged[SuppressGCTransition]<nint, void>)ctxFree;
            CipherInitEx = (delegate* unmanaged[SuppressGCTransition]<nint, nint, nint, byte*, byte*, int, int>)init;
            CipherUpdate = (delegate* unmanaged<nint, byte*, int*, byte*, int, int>)update;
            CipherFinalEx = (delegate* unmanaged[SuppressGCTransition]<nint, byte*, int*, int>)final;
            CipherCtxCtrl = (delegate* unmanaged[SuppressGCTransition]<nint, int, int, byte*, int>)ctrl;
            return Cipher != 0 && SelfTest();
        }

        // RFC 8439 §2.8.2's key, nonce and plaintext, sealed, opened and forged once: a libcrypto that loads but
        // computes something else (a FIPS build without ChaCha20, a stub) must not carry tunnel traffic. WireGuard's
        // data messages have no AAD, and the ciphertext does not depend on it: its first bytes are the RFC's.
        private bool SelfTest()
        {
            ReadOnlySpan<byte> key = [0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
                0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f];
            ReadOnlySpan<byte> nonce = [0x07, 0x00, 0x00, 0x00, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47];
            ReadOnlySpan<byte> expected = [0xd3, 0x1a, 0x8d, 0x34, 0x64, 0x8e, 0x60, 0xdb, 0x7b, 0x86, 0xaf, 0xbc, 0x53, 0xef, 0x7e, 0xc2];
            ReadOnlySpan<byte> plain = "Ladies and Gentl"u8;
            Span<byte> sealedText = stackalloc byte[plain.Length + TagSize];
            Span<byte> opened = stackalloc byte[plain.Length];
            using OpenSslChaCha20Poly1305? sealer = Create(this, key, encrypt: true);
            using OpenSslChaCha20Poly1305? opener = Create(this, key, encrypt: false);
            if (sealer is null || opener is null ||
                !sealer.Seal(nonce, plain, sealedText) || !sealedText[..expected.Length].SequenceEqual(expected) ||
                !opener.Open(nonce, sealedText, opened) || !opened.SequenceEqual(plain))
            {
                return false;
            }

            sealedText[^1] ^= 1;
            return !opener.Open(nonce, sealedText, opened);
        }
    }
}
