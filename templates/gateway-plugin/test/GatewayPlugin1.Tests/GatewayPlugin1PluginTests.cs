using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Hosting;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Plugins;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace GatewayPlugin1.Tests;

public sealed class GatewayPlugin1PluginTests
{
    [Fact]
    public void Validate_DefaultsAndGreeting_NoErrors()
    {
        Assert.Empty(Validate(new() { ["greeting"] = "hi: ", ["listen:0"] = "127.0.0.1:7000" }));
    }

    [Fact]
    public void Validate_BadLimitAndUnknownKey_ReportsBothWithTheirKeys()
    {
        IReadOnlyList<PluginConfigError> errors = Validate(new() { ["maxLineBytes"] = "5", ["greting"] = "typo" });

        Assert.Contains(errors, e => e.KeyPath == "maxLineBytes" && e.Message.Contains("from 16 to 65536"));
        Assert.Contains(errors, e => e.KeyPath == "greting" && e.Message.Contains("known: greeting, maxLineBytes"));
    }

    [Fact]
    public void OnDatagram_Payload_AnswersGreetingAndPayload()
    {
        var responder = new CapturingResponder();
        var request = new DatagramRequest(responder, NetEndpoint.Parse("127.0.0.1:40000"), NetEndpoint.Parse("127.0.0.1:7000"), PacketOrigin.HostSocket, 1472);

        new GatewayPlugin1Plugin().OnDatagram(request, "ping"u8);

        Assert.Equal("hello from gateway-plugin-id: ping", responder.Reply);
    }

    [Fact]
    public async Task HandleAsync_TwoLines_AnswersEachWithGreeting()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!);
        Socket accepted = await listener.AcceptAsync();
        await using var connection = new StreamConnection(
            accepted, NetEndpoint.FromIPEndPoint((IPEndPoint)client.LocalEndPoint!), NetEndpoint.FromIPEndPoint((IPEndPoint)accepted.LocalEndPoint!), PacketOrigin.HostSocket, TimeSpan.FromSeconds(10));
        Task serving = new GatewayPlugin1Plugin().HandleAsync(connection, CancellationToken.None);

        await client.SendAsync("one\ntwo\n"u8.ToArray());
        client.Shutdown(SocketShutdown.Send);
        await serving.WaitAsync(TimeSpan.FromSeconds(10));
        await connection.DisposeAsync();

        Assert.Equal("hello from gateway-plugin-id: one\nhello from gateway-plugin-id: two\n", await ReadToEndAsync(client));
    }

    [Fact]
    public void LogMessages_EveryOne_HasAnExplicitEventId()
    {
        var methods = typeof(GatewayPlugin1Plugin).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            .Select(m => (Method: m, Attribute: m.GetCustomAttribute<LoggerMessageAttribute>()))
            .Where(m => m.Attribute is not null)
            .ToList();

        Assert.NotEmpty(methods);
        Assert.All(methods, m => Assert.True(m.Attribute!.EventId > 0, $"{m.Method.Name} has no EventId"));
        Assert.Equal(methods.Count, methods.Select(m => m.Attribute!.EventId).Distinct().Count());
    }

    private static IReadOnlyList<PluginConfigError> Validate(Dictionary<string, string?> settings)
    {
        IConfiguration section = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var context = new PluginValidationContext("gateway-plugin-id", section, AppContext.BaseDirectory);
        new GatewayPlugin1Plugin().Validate(context);
        return context.Errors;
    }

    private static async Task<string> ReadToEndAsync(Socket socket)
    {
        var received = new MemoryStream();
        byte[] buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(10))) > 0)
        {
            received.Write(buffer, 0, read);
        }

        return Encoding.UTF8.GetString(received.ToArray());
    }

    private sealed class CapturingResponder : IDatagramResponder
    {
        public string? Reply { get; private set; }

        public bool TrySend(in DatagramRequest request, ReadOnlySpan<byte> payload)
        {
            Reply = Encoding.UTF8.GetString(payload);
            return true;
        }
    }
}
