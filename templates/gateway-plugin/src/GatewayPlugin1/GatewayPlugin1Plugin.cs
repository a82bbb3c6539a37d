using System.Diagnostics.Metrics;
using System.Text;
using Gateway.Sdk.Configuration;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GatewayPlugin1;

/// <summary>
/// The gateway-plugin-id plugin: on the endpoints of its <c>listen:</c> (host sockets) and <c>virtual:</c> (TUN)
/// keys it answers each UDP datagram with the greeting and the payload, and each TCP line with the greeting and the
/// line. Replace the two handlers with your service.
/// </summary>
public sealed class GatewayPlugin1Plugin : IGatewayPlugin, IDatagramHandler, IStreamHandler
{
    private static readonly KeyValuePair<string, object?> Udp = new("transport", "udp");
    private static readonly KeyValuePair<string, object?> Tcp = new("transport", "tcp");

    private readonly List<IDisposable> _bindings = [];
    private GatewayPlugin1Options _options = new();
    private byte[] _greeting = Encoding.UTF8.GetBytes(new GatewayPlugin1Options().Greeting);
    private ILogger _logger = NullLogger.Instance;
    private Counter<long>? _requests;

    /// <inheritdoc/>
    public string Id => "gateway-plugin-id";

    /// <inheritdoc/>
    public void Validate(PluginValidationContext context)
    {
        var section = new SectionReader(context);
        GatewayPlugin1Options.Read(section);
        section.Complete();
    }

    /// <inheritdoc/>
    public Task StartAsync(IPluginContext context, CancellationToken cancellationToken)
    {
        _options = GatewayPlugin1Options.Read(new SectionReader(context.Configuration, context.PluginId));
        _greeting = Encoding.UTF8.GetBytes(_options.Greeting);
        _logger = context.Logger;
        _requests = context.Meter.CreateCounter<long>("gateway_plugin_id.requests", "{request}", "Requests answered, by transport (udp, tcp)");
        foreach (ServiceEndpoint endpoint in context.ConfiguredEndpoints)
        {
            _bindings.Add(context.BindDatagram(endpoint, this));
            _bindings.Add(context.BindStream(endpoint, this));
        }

        Log.Serving(_logger, context.ConfiguredEndpoints.Count);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (IDisposable binding in _bindings)
        {
            binding.Dispose();
        }

        _bindings.Clear();
        return Task.CompletedTask;
    }

    /// <summary>Answers greeting + payload, cut to what fits the way back. The payload span is only valid during the call.</summary>
    public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
    {
        int length = Math.Min(_greeting.Length + payload.Length, request.MaxReplySize);
        Span<byte> reply = length <= 1024 ? stackalloc byte[length] : new byte[length];
        _greeting.AsSpan(0, Math.Min(_greeting.Length, length)).CopyTo(reply);
        if (length > _greeting.Length)
        {
            payload[..(length - _greeting.Length)].CopyTo(reply[_greeting.Length..]);
        }

        request.Reply(reply);
        _requests?.Add(1, Udp);
    }

    /// <summary>Answers each line (ending in '\n') with greeting + line; a line over <c>maxLineBytes</c> closes the connection.</summary>
    public async Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[_options.MaxLineBytes];
        int filled = 0;
        while (true)
        {
            int read = await connection.Stream.ReadAsync(buffer.AsMemory(filled), cancellationToken);
            if (read == 0)
            {
                return;
            }

            filled += read;
            int newline;
            while ((newline = Array.IndexOf(buffer, (byte)'\n', 0, filled)) >= 0)
            {
                await connection.Stream.WriteAsync(_greeting, cancellationToken);
                await connection.Stream.WriteAsync(buffer.AsMemory(0, newline + 1), cancellationToken);
                _requests?.Add(1, Tcp);
                filled -= newline + 1;
                buffer.AsSpan(newline + 1, filled).CopyTo(buffer);
            }

            if (filled == buffer.Length)
            {
                Log.LineTooLong(_logger, connection.Client, buffer.Length);
                return;
            }
        }
    }
}
