using System.Net.Sockets;
using System.Text;
using Gateway.Plugins.WireGuard.Device;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.WireGuard.UAPI;

/// <summary>
/// Serves <see cref="UapiProtocol"/> on the unix socket wg looks for (/var/run/wireguard/&lt;interface&gt;.sock,
/// mode 0600, removed on stop), so `wg show` and `wg set` work against the running gateway.
/// </summary>
internal sealed class UapiServer : IAsyncDisposable
{
    /// <summary>Where wireguard-tools looks for userspace interfaces.</summary>
    public const string DefaultDirectory = "/var/run/wireguard";

    private const int MaxRequestLines = 65536;

    private readonly WireGuardDevice _device;
    private readonly ILogger _logger;
    private readonly Func<int, bool>? _rebind;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _setLock = new();
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
            listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(SocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

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

    /// <summary>Handles one request read from <paramref name="reader"/>; returns the full reply, or null at end of stream.</summary>
    public async Task<string?> HandleRequestAsync(TextReader reader, CancellationToken cancellationToken)
    {
        string? first = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        if (first is null)
        {
            return null;
        }

        var lines = new List<string>();
        while (true)
        {
            string? line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (line is null || line.Length == 0)
            {
                break;
            }

            if (lines.Count >= MaxRequestLines)
            {
                return Reply(UapiProtocol.ErrorProtocol, "request too long");
            }

            lines.Add(line);
        }

        switch (first)
        {
            case "get=1":
                return UapiProtocol.Get(_device) + "errno=0\n\n";
            case "set=1":
                int errno;
                string? error;
                lock (_setLock)
                {
                    errno = UapiProtocol.Set(_device, lines, _rebind, out error);
                }

                return Reply(errno, error);
            default:
                return Reply(UapiProtocol.ErrorProtocol, $"unknown operation '{first}'");
        }
    }

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
                using var reader = new StreamReader(stream, Encoding.ASCII);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                while (true)
                {
                    string? reply = await HandleRequestAsync(reader, timeout.Token).ConfigureAwait(false);
                    if (reply is null)
                    {
                        return;
                    }

                    byte[] bytes = Encoding.ASCII.GetBytes(reply);
                    await stream.WriteAsync(bytes, timeout.Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The client went away or was too slow; nothing to answer.
            }
        }
    }
}
