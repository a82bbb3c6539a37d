using System.Text;
using Gateway.Plugins.WireGuard.Configuration;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Plugins.WireGuard.UAPI;
using Gateway.Sdk.Networking;
using Gateway.Sdk.Routing;
using Microsoft.Extensions.Logging.Abstractions;
using static Gateway.Fuzz.FuzzInvariantException;

namespace Gateway.Fuzz.Targets;

/// <summary>
/// The UAPI text protocol (plugins/wireguard/UAPI): the input is what a client writes to the socket, one or more
/// "get=1"/"set=1" requests, handled by <see cref="UapiServer.HandleRequestAsync"/> against a device in memory.
/// </summary>
/// <remarks>
/// Invariants: every request gets one well-formed reply ("errno=N" then an empty line, N one of wireguard-go's);
/// the "get" dump is key=value lines; and the state is what "get" says: replaying the dump's settable keys into a
/// fresh device gives the same dump (keys, peers, endpoints, allowed IPs, keepalives). Endpoint names other than IP
/// literals are replaced before the request is handled: resolving them would ask the system resolver.
/// </remarks>
internal sealed class UapiTarget : IFuzzTarget
{
    private static readonly byte[] PrivateKey = Convert.FromHexString("a8d6c7e2f1a4b3c5d7e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d44f");
    private static readonly string[] SettableKeys =
        ["private_key", "listen_port", "fwmark", "public_key", "preshared_key", "protocol_version", "endpoint", "persistent_keepalive_interval", "allowed_ip"];

    private readonly WireGuardDevice _device = new((byte[])PrivateKey.Clone(), new NullInjector(), NullLogger.Instance);
    private readonly WireGuardDevice _again = new((byte[])PrivateKey.Clone(), new NullInjector(), NullLogger.Instance);

    public string Name => "uapi";

    public string Description => "UAPI get/set requests: one reply each, get round-trips through set";

    public void Run(ReadOnlySpan<byte> input)
    {
        string text = Sanitize(Encoding.UTF8.GetString(input));
        WireGuardDevice device = Reset(_device);
        var server = new UapiServer(device, "fuzz0", NullLogger.Instance, port => { device.ListenPort = port; return true; }, "/nonexistent");
        var reader = new UapiRequestReader(new MemoryStream(Encoding.ASCII.GetBytes(text)));
        for (int requests = 0; requests < 64; requests++)
        {
            (string? reply, bool close) = server.HandleRequestAsync(reader, CancellationToken.None).GetAwaiter().GetResult();
            if (reply is null)
            {
                break;
            }

            Check(reply.EndsWith("\n\n", StringComparison.Ordinal), "a reply does not end with an empty line");
            string[] lines = reply[..^2].Split('\n');
            string last = lines[^1];
            Check(last is "errno=0" or "errno=-22" or "errno=-71" or "errno=-98" or "errno=-90", $"a reply ends with '{last}'");
            for (int i = 0; i < lines.Length - 1; i++)
            {
                Check(lines[i].IndexOf('=') > 0, $"the get dump has a line '{lines[i]}' that is not key=value");
            }

            if (close)
            {
                // A request past a bound (line or size): the server closes the connection after its reply.
                break;
            }
        }

        // The dump replays into a fresh device as the same dump.
        string dump = UapiProtocol.Get(device);
        var replay = new List<string>();
        foreach (string line in dump.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (Array.IndexOf(SettableKeys, line[..line.IndexOf('=')]) >= 0)
            {
                replay.Add(line);
            }
        }

        WireGuardDevice again = Reset(_again);
        int errno = UapiProtocol.Set(again, replay, port => { again.ListenPort = port; return true; }, out string? error);
        Check(errno == 0, $"the get dump does not set back ({errno}: {error})");
        // The order of the peers is not part of the protocol (wireguard-go dumps a map): compare peer by peer.
        Check(Canonical(UapiProtocol.Get(again)) == Canonical(dump), $"the state does not round-trip through get/set:\n{dump}\n---\n{UapiProtocol.Get(again)}");
    }

    /// <summary>The dump with its peer blocks (each from a public_key line) in a fixed order.</summary>
    private static string Canonical(string dump)
    {
        string[] parts = dump.Split("public_key=");
        return parts[0] + string.Join("public_key=", parts[1..].Order(StringComparer.Ordinal));
    }

    /// <summary>Back to the fixed key, no peers, no port or mark: each input starts from the same device (made once, as keys cost DH work).</summary>
    private static WireGuardDevice Reset(WireGuardDevice device)
    {
        if (!device.Identity.PrivateKey.AsSpan().SequenceEqual(PrivateKey))
        {
            device.SetPrivateKey((byte[])PrivateKey.Clone());
        }

        foreach (Peer peer in device.Peers)
        {
            device.RemovePeer(peer);
        }

        device.ListenPort = 0;
        device.FirewallMark = 0;
        return device;
    }

    /// <summary>Replaces endpoint host names (which would be resolved) by a literal; lines split as ReadLine splits them.</summary>
    private static string Sanitize(string text)
    {
        if (!text.Contains("endpoint=", StringComparison.Ordinal))
        {
            return text;
        }

        var result = new StringBuilder(text.Length);
        using var reader = new StringReader(text);
        while (reader.ReadLine() is { } line)
        {
            if (line.StartsWith("endpoint=", StringComparison.Ordinal) && !NetEndpoint.TryParse(line.AsSpan(9), out _) &&
                EndpointResolver.TryParseHostPort(line[9..], out _, out _))
            {
                line = "endpoint=192.0.2.9:51820";
            }

            result.Append(line).Append('\n');
        }

        return result.ToString();
    }

    private sealed class NullInjector : IPacketInjector
    {
        public void Deliver(Span<byte> packet, IPacketRoute origin)
        {
        }

        public void Flush()
        {
        }
    }
}
