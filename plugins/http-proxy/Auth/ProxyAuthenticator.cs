using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Gateway.Plugins.HttpProxy.Diagnostics;
using Gateway.Sdk.IO;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Security;
using Microsoft.Extensions.Logging;
using Gateway.Plugins.HttpProxy.Io.Epoll;

namespace Gateway.Plugins.HttpProxy.Auth;

/// <summary>
/// Checks user names and passwords against bcrypt hashes (BCrypt.Net-Next) from <c>auth.usersFile</c> and
/// <c>auth.users</c>; reloads the file when it changes. Shared by HTTP Basic and SOCKS5 username/password.
/// </summary>
/// <remarks>
/// A bcrypt check costs milliseconds of CPU by design, so a credential that passed is remembered (as an HMAC under a
/// random key, never the password) until the users change — squid's credentialsttl; a keep-alive connection checks
/// once. Unknown users are checked against a dummy hash so the answer takes as long as for a known one.
/// </remarks>
internal sealed class ProxyAuthenticator : IDisposable
{
    // Remembered credentials; past this many the set starts over (a flood of distinct right passwords is unlikely).
    private const int MaxRemembered = 4096;

    private static readonly string s_dummyHash = BCrypt.Net.BCrypt.HashPassword("not a password", 10);

    private readonly ProxyAuthOptions _options;
    private readonly string? _usersFile;
    private readonly ILogger _logger;
    private readonly DebouncedFileWatcher? _watcher;
    private readonly IDisposable? _watch;
    private volatile Users _users;

    private ProxyAuthenticator(ProxyAuthOptions options, string? usersFile, Users users, ILogger logger)
    {
        _options = options;
        _usersFile = usersFile;
        _users = users;
        _logger = logger;
        Throttle = new AuthThrottle(options.FailuresBeforeDelay, options.FailureDelay);
        if (usersFile is not null)
        {
            _watcher = new DebouncedFileWatcher(TimeSpan.FromMilliseconds(300), Reload, e => HttpProxyLog.UsersFileError(_logger, usersFile, e.Message));
            string name = Path.GetFileName(usersFile);
            _watch = _watcher.Watch(Path.GetDirectoryName(usersFile)!, nameFilter: n => string.Equals(Path.GetFileName(n), name, StringComparison.Ordinal));
        }
    }

    /// <summary>The realm for <c>Proxy-Authenticate</c>.</summary>
    public string Realm => _options.Realm;

    /// <summary>Users loaded now.</summary>
    public int UserCount => _users.Hashes.Count;

    public AuthThrottle Throttle { get; }

    /// <summary>Loads the users (the file resolved against <paramref name="configDirectory"/> and checked with FileTrust).</summary>
    /// <exception cref="InvalidDataException">The file is missing, not private, or has an entry that is not bcrypt (the message says which line).</exception>
    public static ProxyAuthenticator Create(ProxyAuthOptions options, string configDirectory, ILogger logger)
    {
        string? file = options.UsersFile is null ? null : Path.GetFullPath(options.UsersFile, configDirectory);
        Users users = Load(options, file);
        return new ProxyAuthenticator(options, file, users, logger);
    }

    /// <summary>
    /// Checks one user name and password for <paramref name="client"/>; a slowed-down client waits its turn first.
    /// </summary>
    public async ValueTask<bool> CheckAsync(NetAddress client, string user, string password, CancellationToken cancellationToken)
    {
        Users users = _users;
        string key = users.Key(user, password);
        if (users.Remembered.ContainsKey(key))
        {
            return true;
        }

        // bcrypt takes milliseconds: never on an epoll loop's thread.
        await EpollLoop.LeaveAsync().ConfigureAwait(false);
        using (await Throttle.EnterAsync(client, cancellationToken).ConfigureAwait(false))
        {
            bool known = users.Hashes.TryGetValue(user, out string? hash);
            bool valid = Verify(password, known ? hash! : s_dummyHash) && known;
            if (!valid)
            {
                Throttle.Failed(client);
                return false;
            }

            Throttle.Succeeded(client);
            if (users.Remembered.Count >= MaxRemembered)
            {
                users.Remembered.Clear();
            }

            users.Remembered.TryAdd(key, 0);
            return true;
        }
    }

    private static bool Verify(string password, string hash)
    {
        try
        {
            return BCrypt.Net.BCrypt.Verify(password, hash);
        }
        catch (BCrypt.Net.SaltParseException)
        {
            return false;
        }
    }

    private void Reload()
    {
        try
        {
            _users = Load(_options, _usersFile);
            HttpProxyLog.UsersReloaded(_logger, _usersFile!, _users.Hashes.Count);
        }
        catch (InvalidDataException e)
        {
            HttpProxyLog.UsersFileError(_logger, _usersFile!, e.Message);
        }
    }

    private static Users Load(ProxyAuthOptions options, string? file)
    {
        Dictionary<string, string> hashes = new(StringComparer.Ordinal);
        if (HtpasswdParser.Parse(options.Users, hashes, "auth.users entry") is { } configError)
        {
            throw new InvalidDataException(configError);
        }

        if (file is not null)
        {
            if (FileTrust.CheckSecretFile(file) is { } distrust)
            {
                throw new InvalidDataException($"{file} {distrust}");
            }

            string[] lines;
            try
            {
                lines = File.ReadAllLines(file);
            }
            catch (IOException e)
            {
                throw new InvalidDataException($"{file}: {e.Message}");
            }

            if (HtpasswdParser.Parse(lines, hashes) is { } fileError)
            {
                throw new InvalidDataException($"{file}: {fileError}");
            }
        }

        return new Users(hashes);
    }

    public void Dispose()
    {
        _watch?.Dispose();
        _watcher?.Dispose();
    }

    /// <summary>One generation of users and the credentials that passed against it.</summary>
    private sealed class Users(Dictionary<string, string> hashes)
    {
        private readonly byte[] _hmacKey = RandomNumberGenerator.GetBytes(32);

        public Dictionary<string, string> Hashes { get; } = hashes;

        public ConcurrentDictionary<string, byte> Remembered { get; } = new(StringComparer.Ordinal);

        public string Key(string user, string password) =>
            Convert.ToBase64String(HMACSHA256.HashData(_hmacKey, Encoding.UTF8.GetBytes(user + "\0" + password)));
    }
}
