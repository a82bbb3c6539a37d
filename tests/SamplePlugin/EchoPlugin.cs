using System.Text;
using Gateway.Sdk.Api;
using Gateway.Sdk.Configuration;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Logging;

namespace Gateway.Samples.Echo;

/// <summary>
/// A sample third-party plugin: echoes UDP datagrams and TCP lines on its <c>listen:</c> and
/// <c>virtual:</c> endpoints, each answer prefixed with the configured <c>greeting</c>.
/// Config section <c>echo</c>: <c>greeting</c> (default "echo: ", or "echo v2: " when built with ECHO_V2), <c>throwOn</c> (a payload that makes the
/// handler throw, to show the host isolates handler failures), <c>failStart</c> (true: throw in StartAsync), <c>holdPort</c>
/// (a TCP port on 127.0.0.1 the plugin listens on itself, unknown to the host, from the first step of its start until
/// StopAsync: shows that a start failing half-way is stopped).
/// Admin API routes (under <c>/api/v1/plugins/echo/</c>): <c>GET stats</c> (datagrams and lines echoed, the greeting),
/// <c>POST greeting</c> with <c>{"greeting": "..."}</c>, and <c>GET fail</c>, which always throws (the host answers 500).
/// </summary>
public sealed partial class EchoPlugin : IGatewayPlugin, IDatagramHandler, IStreamHandler
{
#if ECHO_V2
    /// <summary>The greeting when none is configured; a v2 build (-p:EchoVariant=V2) answers differently, to test drop-in replacement.</summary>
    public const string DefaultGreeting = "echo v2: ";
#else
    /// <summary>The greeting when none is configured; a v2 build (-p:EchoVariant=V2) answers differently, to test drop-in replacement.</summary>
    public const string DefaultGreeting = "echo: ";
#endif

    private readonly List<IDisposable> _bindings = new();
    private byte[] _greeting = Encoding.UTF8.GetBytes(DefaultGreeting);
    private string? _throwOn;
    private System.Net.Sockets.TcpListener? _held;
    private long _datagrams;
    private long _lines;

    /// <inheritdoc/>
    public string Id => "echo";

    /// <inheritdoc/>
    public void Validate(PluginValidationContext context)
    {
        var section = new SectionReader(context);
        Read(section);
        section.Complete();
    }

    /// <inheritdoc/>
    public Task StartAsync(IPluginContext context, CancellationToken cancellationToken)
    {
        (string greeting, string? throwOn, bool failStart, int holdPort) = Read(new SectionReader(context.Configuration, context.PluginId));
        if (holdPort > 0)
        {
            _held = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, holdPort);
            _held.Start();
        }

        if (failStart)
        {
            throw new InvalidOperationException("echo: failStart is set, refusing to start");
        }

        _greeting = Encoding.UTF8.GetBytes(greeting);
        _throwOn = throwOn;
        foreach (ServiceEndpoint endpoint in context.ConfiguredEndpoints)
        {
            _bindings.Add(context.BindDatagram(endpoint, this));
            _bindings.Add(context.BindStream(endpoint, this));
        }

        _bindings.Add(context.MapApi("GET", "stats", Stats));
        _bindings.Add(context.MapApi("POST", "greeting", SetGreeting));
        _bindings.Add(context.MapApi("GET", "fail", (_, _) => throw new InvalidOperationException("echo: the fail route always throws")));
        Serving(context.Logger, context.ConfiguredEndpoints.Count);
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
        _held?.Dispose();
        _held = null;
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
    {
        ThrowIfAsked(payload);
        Interlocked.Increment(ref _datagrams);
        Span<byte> reply = stackalloc byte[Math.Min(_greeting.Length + payload.Length, 65507)];
        _greeting.CopyTo(reply);
        payload[..(reply.Length - _greeting.Length)].CopyTo(reply[_greeting.Length..]);
        request.Reply(reply);
    }

    /// <inheritdoc/>
    public async Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(connection.Stream, Encoding.UTF8, leaveOpen: true);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            ThrowIfAsked(Encoding.UTF8.GetBytes(line));
            Interlocked.Increment(ref _lines);
            byte[] answer = [.. _greeting, .. Encoding.UTF8.GetBytes(line + "\n")];
            await connection.Stream.WriteAsync(answer, cancellationToken);
        }
    }

    private ValueTask<ApiResponse> Stats(ApiRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(ApiResponse.Json(new EchoStats(Interlocked.Read(ref _datagrams), Interlocked.Read(ref _lines), Encoding.UTF8.GetString(_greeting))));

    private ValueTask<ApiResponse> SetGreeting(ApiRequest request, CancellationToken cancellationToken)
    {
        GreetingChange? change;
        try
        {
            change = request.ReadJson<GreetingChange>();
        }
        catch (System.Text.Json.JsonException ex)
        {
            return ValueTask.FromResult(ApiResponse.Error(400, "the body is not JSON like {\"greeting\": \"hi: \"}: " + ex.Message));
        }

        if (change?.Greeting is not { Length: > 0 and <= 100 } greeting)
        {
            return ValueTask.FromResult(ApiResponse.Error(400, "greeting must be 1-100 characters"));
        }

        _greeting = Encoding.UTF8.GetBytes(greeting);
        return ValueTask.FromResult(ApiResponse.Json(change));
    }

    private static (string Greeting, string? ThrowOn, bool FailStart, int HoldPort) Read(SectionReader section) =>
        (section.String("greeting", DefaultGreeting)!, section.String("throwOn"), section.Bool("failStart", false), section.Int("holdPort", 0, 0, 65535));

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "echo serving on {Count} endpoint(s)")]
    private static partial void Serving(ILogger logger, int count);

    private void ThrowIfAsked(ReadOnlySpan<byte> payload)
    {
        if (_throwOn is not null && payload.SequenceEqual(Encoding.UTF8.GetBytes(_throwOn)))
        {
            throw new InvalidOperationException("echo: asked to throw");
        }
    }

    private sealed record EchoStats(long Datagrams, long Lines, string Greeting);

    private sealed record GreetingChange(string? Greeting);
}
