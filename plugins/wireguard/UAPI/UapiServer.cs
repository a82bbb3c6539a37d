using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Gateway.Plugins.WireGuard.Device;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.WireGuard.UAPI;

/// <summary>
/// Serves <see cref="UapiProtocol"/> on the unix socket wg looks for (/var/run/wireguard/&lt;interface&gt;.sock,
/// mode 0600 from the moment it exists, removed on stop), so `wg show` and `wg set` work against the running
/// gateway. The socket is the interface's whole configuration, private key included: only root (the owner) may
/// connect. Requests are bounded (<see cref="UapiRequestReader"/>).
/// </summary>
internal sealed partial class UapiServer : IAsyncDisposable
{
    /// <summary>Where wireguard-tools looks for userspace interfaces.</summary>
    public const string DefaultDirectory = "/var/run/wireguard";

    /// <summary>The reply to a request past a bound (−EMSGSIZE; `wg` prints "Message too long").</summary>
    public const int ErrorTooLarge = -90;

    /// <summary>The reply when applying a request failed inside the gateway (−EIO): a bug, logged; the gateway keeps serving.</summary>
    public const int ErrorInternal = -5;

    private static readonly Lock s_umaskLock = new();

    private readonly WireGuardDevice _device;
    private readonly ILogger _logger;
    private readonly Func<int, bool>? _rebind;
    private readonly CancellationTokenSource _stop = new();
    private Socket? _listener;
    private Task? _acceptLoop;

    /// <summary>Creates the server for <paramref name="interfaceName"/>; <paramref name="rebind"/> applies listen_port changes.</summary>
    public UapiServer(WireGuardDevice device, string interfaceName, ILogger logger, Func<int, bool>? rebind = null, string directory = DefaultDirectory)
    {
        _device = device;
        _logger = logger;
        _rebind = rebind;
        InterfaceName = interfaceName;
        SocketPath = Path.Combine(directory, interfaceName + ".sock");
    }

    /// <summary>
    /// Held while a <c>set</c> request changes the device; a config reload takes it too, so the two never
    /// interleave their changes to one peer.
    /// </summary>
    public Lock SetLock { get; } = new();

    /// <summary>The interface name.</summary>
    public string InterfaceName { get; }

    /// <summary>The socket path.</summary>
    public string SocketPath { get; }

    /// <summary>Creates the socket and starts accepting. Returns false (logged) when it cannot.</summary>
    public bool Start()
    {
        try
        {
            string directory = Path.GetDirectoryName(SocketPath)!;
            Directory.CreateDirectory(directory);
            if (File.Exists(SocketPath))
            {
                if (IsServed(SocketPath))
                {
                    WireGuardLog.UapiUnavailable(_logger, SocketPath, "another process serves it (is another wireguard-go or gateway using this interface name?)");
                    return false;
                }

                File.Delete(SocketPath);
            }

            var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            BindPrivate(listener, SocketPath);

            listener.Listen(16);
            _listener = listener;
            _acceptLoop = AcceptLoopAsync(listener, _stop.Token);
            WireGuardLog.UapiListening(_logger, SocketPath, InterfaceName);
            return true;
        }
        catch (Exception ex) when (ex is IOException or SocketException or UnauthorizedAccessException)
        {
            WireGuardLog.UapiUnavailable(_logger, SocketPath, ex.Message);
            return false;
        }
    }

    /// <summary>
    /// Handles one request read from <paramref name="reader"/>. Returns the full reply (null at end of stream) and
    /// whether the connection must be closed after it (a request past a bound cannot be resynchronised).
    /// </summary>
    public async Task<(string? Reply, bool Close)> HandleRequestAsync(UapiRequestReader reader, CancellationToken cancellationToken)
    {
        reader.BeginRequest();
        (UapiReadResult result, string? first) = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        if (result == UapiReadResult.EndOfStream)
        {
            return (null, true);
        }

        var lines = new List<string>();
        while (result == UapiReadResult.Line)
        {
            (result, string? line) = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (result != UapiReadResult.Line || line!.Length == 0)
            {
                break;
            }

            lines.Add(line);
        }

        switch (result)
        {
            case UapiReadResult.LineTooLong:
                return (Reply(ErrorTooLarge, $"a request line is longer than {UapiRequestReader.MaxLineBytes} bytes; closing the connection"), true);
            case UapiReadResult.RequestTooLarge:
                return (Reply(ErrorTooLarge, $"the request is larger than {UapiRequestReader.MaxRequestBytes} bytes; closing the connection"), true);
        }

        switch (first)
        {
            case "get=1":
                return (UapiProtocol.Get(_device) + "errno=0\n\n", false);
            case "set=1":
                int errno;
                string? error;
                try
                {
                    lock (SetLock)
                    {
                        errno = UapiProtocol.Set(_device, lines, _rebind, out error);
                    }
                }
                catch (Exception ex)
                {
                    // A bug in applying the request: the client gets an error, the gateway keeps serving.
                    WireGuardLog.UapiHandlerFailed(_logger, ex);
                    return (Reply(ErrorInternal, "internal error (logged)"), false);
                }

                if (errno == UapiProtocol.Ok)
                {
                    RuntimeSet?.Invoke(lines);
                }

                return (Reply(errno, error), false);
            default:
                return (Reply(UapiProtocol.ErrorProtocol, $"unknown operation '{first}'"), false);
        }
    }

    /// <summary>
    /// Raised (on the UAPI thread) after a `set` request was applied, with its lines: the plugin notes which peers
    /// were changed at run time (see the README's "Live reload": the file wins only for what it changes later).
    /// </summary>
    public event Action<IReadOnlyList<string>>? RuntimeSet;

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        if (_acceptLoop is not null)
        {
            try
            {
                await _acceptLoop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping.
            }
        }

        try
        {
            if (_listener is not null)
            {
                File.Delete(SocketPath);
            }
        }
        catch (IOException)
        {
            // Already gone.
        }

        _stop.Dispose();
    }

    private string Reply(int errno, string? reason)
    {
        if (errno != 0)
        {
            WireGuardLog.UapiRequestFailed(_logger, errno, reason ?? "?");
        }

        return $"errno={errno}\n\n";
    }

    private static bool IsServed(string path)
    {
        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private async Task AcceptLoopAsync(Socket listener, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = ServeAsync(client, cancellationToken);
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken cancellationToken)
    {
        using (client)
        {
            try
            {
                using var stream = new NetworkStream(client, ownsSocket: false);
                var reader = new UapiRequestReader(stream);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                while (true)
                {
                    (string? reply, bool close) = await HandleRequestAsync(reader, timeout.Token).ConfigureAwait(false);
                    if (reply is not null)
                    {
                        byte[] bytes = Encoding.ASCII.GetBytes(reply);
                        await stream.WriteAsync(bytes, timeout.Token).ConfigureAwait(false);
                    }

                    if (close)
                    {
                        return;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away or was too slow; nothing to answer.
            }
        }
    }

    /// <summary>
    /// Binds <paramref name="listener"/> at <paramref name="path"/> with umask 0077, so the socket is created mode
    /// 0600 (srw-------) and is never, even for an instant, connectable by other users (as wireguard-go's
    /// ipc.UAPIListen does). umask is per process: while it is set, files other threads create come out more
    /// private, never less, and the window is one bind(2) long.
    /// </summary>
    private static void BindPrivate(Socket listener, string path)
    {
        if (OperatingSystem.IsWindows())
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            return;
        }

        lock (s_umaskLock)
        {
            uint previous = Umask(0x3F);
            try
            {
                listener.Bind(new UnixDomainSocketEndPoint(path));
            }
            finally
            {
                Umask(previous);
            }
        }

        // Belt and braces: a file system that ignores the umask for sockets still ends at 0600.
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint Umask(uint mask);
}
