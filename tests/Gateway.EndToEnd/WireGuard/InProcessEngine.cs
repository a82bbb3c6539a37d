using System.Net.Sockets;
using Gateway.EndToEnd.Infrastructure;
using Gateway.Plugins.WireGuard.Conn;
using Gateway.Plugins.WireGuard.Crypto;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.EndToEnd.WireGuard;

/// <summary>
/// Our WireGuard engine running in the test process, its UDP socket created inside a namespace (setns on a
/// dedicated thread), with a <see cref="TestTunnelEndpoint"/> in place of the gateway's TUN.
/// </summary>
public sealed class InProcessEngine : IDisposable
{
    private InProcessEngine(WireGuardDevice device, UdpTransport transport, TestTunnelEndpoint tunnel, byte[] privateKey)
    {
        Device = device;
        Transport = transport;
        Tunnel = tunnel;
        PrivateKey = privateKey;
    }

    internal WireGuardDevice Device { get; }

    internal UdpTransport Transport { get; }

    /// <summary>The TUN stand-in.</summary>
    public TestTunnelEndpoint Tunnel { get; }

    /// <summary>Our private key.</summary>
    public byte[] PrivateKey { get; }

    /// <summary>Our public key in base64.</summary>
    public string PublicKeyBase64 => Convert.ToBase64String(Device.Identity.PublicKey);

    /// <summary>A new private key.</summary>
    public static byte[] NewPrivateKey() => Curve25519.GeneratePrivateKey();

    /// <summary>Starts the engine with its sockets bound on <paramref name="port"/> inside <paramref name="ns"/>.</summary>
    internal static async Task<InProcessEngine> StartAsync(NetworkNamespace ns, int port, byte[] privateKey, WireGuardTimings? timings = null)
    {
        var tunnel = new TestTunnelEndpoint();
        var device = new WireGuardDevice(privateKey, tunnel, NullLogger.Instance, timings: timings);
        (Socket v4, Socket v6) = await NetnsThread.RunAsync(ns.Name, () =>
        {
            Socket a = UdpTransport.CreateSocket(AddressFamily.InterNetwork);
            UdpTransport.Bind(a, port);
            Socket b = UdpTransport.CreateSocket(AddressFamily.InterNetworkV6);
            UdpTransport.Bind(b, port);
            return (a, b);
        });
        var transport = new UdpTransport(device, v4, v6, NullLogger.Instance);
        device.ListenPort = port;
        device.BatchSends = true;
        device.Start(transport);
        transport.Start();
        return new InProcessEngine(device, transport, tunnel, privateKey);
    }

    /// <summary>Adds a peer.</summary>
    internal Peer AddPeer(string publicKey, string? presharedKey, string? endpoint, params string[] allowedIps)
    {
        Peer peer = Device.AddPeer(Convert.FromBase64String(publicKey));
        if (presharedKey is not null)
        {
            peer.SetPresharedKey(Convert.FromBase64String(presharedKey));
        }

        if (endpoint is not null)
        {
            peer.SetEndpoint(NetEndpoint.Parse(endpoint));
        }

        foreach (string prefix in allowedIps)
        {
            Device.AllowedIps.Insert(IpPrefix.Parse(prefix), peer);
        }

        return peer;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Device.Dispose();
        Transport.Dispose();
    }
}
