namespace Gateway.Plugins.HttpProxy.Auth;

/// <summary>
/// Proxy authentication (<c>http-proxy.auth</c>): HTTP <c>Proxy-Authorization: Basic</c> (RFC 7617; 407 with
/// <c>Proxy-Authenticate</c> otherwise) and SOCKS5 username/password (RFC 1929). Off when the section names no users.
/// </summary>
internal sealed class ProxyAuthOptions
{
    /// <summary>
    /// The realm in <c>Proxy-Authenticate: Basic realm="..."</c> (<c>realm</c>): what the browser's password prompt
    /// shows. Defaults to "gateway".
    /// </summary>
    public string Realm { get; init; } = "gateway";

    /// <summary>
    /// An htpasswd file with bcrypt hashes (<c>usersFile</c>), as <c>htpasswd -B</c> writes it and squid's
    /// basic_ncsa_auth and nginx read it: one <c>user:$2y$...</c> per line, # comments. A relative path is relative to
    /// the config file's folder. Reloaded within about a second of a change; a file with an error is refused (its
    /// line number logged) and the users already loaded stay. Defaults to none. Security: plain-text, crypt, MD5
    /// (<c>$apr1$</c>) and SHA-1 (<c>{SHA}</c>) entries are refused with their line number; the file must be private
    /// (chmod 600, owned by root or the gateway's user: ssh's rule for private keys) or the plugin does not start.
    /// </summary>
    public string? UsersFile { get; init; }

    /// <summary>
    /// Users written in the config itself (<c>users</c>): htpasswd lines, <c>"alice:$2y$05$..."</c>, bcrypt only.
    /// Defaults to none. Combined with <see cref="UsersFile"/>; a user in both is an error.
    /// </summary>
    public IReadOnlyList<string> Users { get; init; } = [];

    /// <summary>
    /// Failed attempts a client address may make within a minute before it is slowed down
    /// (<c>failuresBeforeDelay</c>). Defaults to 5. Security: past it, that client's attempts are checked one at a time,
    /// each after <see cref="FailureDelay"/>, so guessing passwords from one address runs at about one guess per delay
    /// however many connections it opens; other clients are not affected. A success, or a minute without failures,
    /// clears the count.
    /// </summary>
    public int FailuresBeforeDelay { get; init; } = 5;

    /// <summary>The wait before each attempt of a slowed-down client (<c>failureDelayMilliseconds</c>). Defaults to 1000 ms.</summary>
    public TimeSpan FailureDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>True when users are configured: every HTTP and SOCKS client must authenticate.</summary>
    public bool Enabled => UsersFile is not null || Users.Count > 0;
}
