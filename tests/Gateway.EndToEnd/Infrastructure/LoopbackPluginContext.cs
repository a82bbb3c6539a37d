using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Hosting;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.EndToEnd.Infrastructure;

/// <summary>
/// A minimal <see cref="IPluginContext"/> for running one plugin in-process against real peers: host
/// sockets on loopback only (UDP receive loop, TCP accept loop), captured log lines, a private meter.
/// Virtual endpoints, routes and hooks are the real host's job and are not offered here.
/// </summary>
public sealed class LoopbackPluginContext : IPluginContext, IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<IDisposable> _bindings = new();

    /// <summary>Creates a context whose section is <paramref name="settings"/> (flat keys such as "upstreams:0:address").</summary>
    public LoopbackPluginContext(string pluginId, IDictionary<string, string?> settings, IReadOnlyList<ServiceEndpoint> endpoints, string configDirectory)
    {
        PluginId = pluginId;
        Configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        ConfiguredEndpoints = endpoints;
        ConfigDirectory = configDirectory;
        Meter = new Meter($"Gateway.Plugins.{pluginId}.test");
        LoggerFactory = new CapturingLoggerFactory(Logs);
    }

    /// <summary>How many endpoints the plugin bound.</summary>
    public int BindingCount => _bindings.Count;

    /// <summary>Every log line, formatted "Level: message".</summary>
    public ConcurrentQueue<string> Logs { get; } = new();

    /// <inheritdoc/>
    public string PluginId { get; }

    /// <inheritdoc/>
    public IConfiguration Configuration { get; }

    /// <inheritdoc/>
    public string ConfigDirectory { get; }

    /// <inheritdoc/>
    public string PluginDirectory => AppContext.BaseDirectory;

    /// <inheritdoc/>
    public ILoggerFactory LoggerFactory { get; }

    /// <inheritdoc/>
    public Meter Meter { get; }

    /// <inheritdoc/>
    public IReadOnlyList<ServiceEndpoint> ConfiguredEndpoints { get; }

    /// <inheritdoc/>
    public ITunInfo? Tun => null;

    /// <inheritdoc/>
    public CancellationToken Stopping => _stopping.Token;

    /// <inheritdoc/>
    public IPacketInjector Inbound => throw new NotSupportedException("no TUN in loopback tests");

    /// <inheritdoc/>
    public IDisposable BindDatagram(ServiceEndpoint endpoint, IDatagramHandler handler)
    {
        var socket = new Socket(endpoint.Endpoint.Address.Family, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(endpoint.Endpoint.ToIPEndPoint());
        var responder = new UdpResponder(socket);
        _ = Task.Run(() => ReceiveLoopAsync(socket, endpoint.Endpoint, handler, responder));
        var binding = new Binding(socket);
        _bindings.Add(binding);
        return binding;
    }

    /// <inheritdoc/>
    public IDisposable BindStream(ServiceEndpoint endpoint, IStreamHandler handler)
    {
        var socket = new Socket(endpoint.Endpoint.Address.Family, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.Bind(endpoint.Endpoint.ToIPEndPoint());
        socket.Listen(512);
        _ = Task.Run(() => AcceptLoopAsync(socket, endpoint.Endpoint, handler));
        var binding = new Binding(socket);
        _bindings.Add(binding);
        return binding;
    }

    /// <inheritdoc/>
    public IDisposable AddRoute(IpPrefix prefix, IPacketRoute route) => throw new NotSupportedException("no TUN in loopback tests");

    /// <inheritdoc/>
    public IDisposable AddPacketHook(IPacketHook hook) => throw new NotSupportedException("no TUN in loopback tests");

    /// <inheritdoc/>
    public void ProtectSocket(Socket socket)
    {
    }

    /// <summary>The resolver the plugin offered with <see cref="ProvideNameResolver"/>, until it withdrew it.</summary>
    public INameResolver? ProvidedNameResolver { get; private set; }

    /// <inheritdoc/>
    public INameResolver NameResolver => ProvidedNameResolver ?? SystemNameResolver.Instance;

    /// <inheritdoc/>
    public IDisposable ProvideNameResolver(INameResolver resolver)
    {
        ProvidedNameResolver = resolver;
        return new Withdraw(this, resolver);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        foreach (IDisposable binding in _bindings)
        {
            binding.Dispose();
        }

        Meter.Dispose();
    }

    private async Task ReceiveLoopAsync(Socket socket, NetEndpoint local, IDatagramHandler handler, UdpResponder responder)
    {
        byte[] buffer = new byte[65536];
        EndPoint any = new IPEndPoint(local.Address.IsV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_stopping.IsCancellationRequested)
        {
            SocketReceiveFromResult result;
            try
            {
                result = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            var client = NetEndpoint.FromIPEndPoint((IPEndPoint)result.RemoteEndPoint);
            var request = new DatagramRequest(responder, client, local, PacketOrigin.HostSocket, 65507);
            handler.OnDatagram(request, buffer.AsSpan(0, result.ReceivedBytes));
        }
    }

    private async Task AcceptLoopAsync(Socket listener, NetEndpoint local, IStreamHandler handler)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                accepted.NoDelay = true;
                await using var connection = new StreamConnection(accepted, NetEndpoint.FromIPEndPoint((IPEndPoint)accepted.RemoteEndPoint!), local, PacketOrigin.HostSocket, TimeSpan.FromSeconds(30));
                try
                {
                    await handler.HandleAsync(connection, _stopping.Token);
                }
                catch (Exception e)
                {
                    Logs.Enqueue($"Error: stream handler threw {e}");
                }
            });
        }
    }

    private sealed class UdpResponder(Socket socket) : IDatagramResponder
    {
        public bool TrySend(in DatagramRequest request, ReadOnlySpan<byte> payload)
        {
            try
            {
                return socket.SendTo(payload, SocketFlags.None, request.Client.ToIPEndPoint()) == payload.Length;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return false;
            }
        }
    }

    private sealed class Binding(Socket socket) : IDisposable
    {
        public void Dispose() => socket.Dispose();
    }

    private sealed class CapturingLoggerFactory(ConcurrentQueue<string> lines) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new CapturingLogger(lines);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }
    }

    private sealed class CapturingLogger(ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
            }
        }
    }

    private sealed class Withdraw(LoopbackPluginContext context, INameResolver resolver) : IDisposable
    {
        public void Dispose()
        {
            if (ReferenceEquals(context.ProvidedNameResolver, resolver))
            {
                context.ProvidedNameResolver = null;
            }
        }
    }
}
