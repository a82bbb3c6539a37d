using System.Diagnostics.Metrics;
using Gateway.EndToEnd.Infrastructure;
using Gateway.Host.Configuration;
using Gateway.Host.Networking;
using Gateway.Host.Tun;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.EndToEnd.Tun;

/// <summary>
/// A network namespace with the gateway's TUN side running in-process inside it (device gw0, 10.30.30.1/24
/// and fd30::1/64) and <see cref="TestEchoHandler"/> bound on 10.30.30.30:7 and [fd30::30]:7, UDP and TCP.
/// Commands run inside with <see cref="Namespace"/>; <c>python3</c> scripts with <see cref="PythonAsync"/>.
/// </summary>
public sealed class TunHarness : IAsyncDisposable
{
    public const string VirtualV4 = "10.30.30.30";
    public const string VirtualV6 = "fd30::30";
    public const int EchoPort = 7;

    private readonly Meter _meter;

    private TunHarness(NetworkNamespace ns, TunVirtualNetwork network, Meter meter, List<IDisposable> bindings)
    {
        Namespace = ns;
        Network = network;
        _meter = meter;
        Bindings = bindings;
    }

    public NetworkNamespace Namespace { get; }

    internal TunVirtualNetwork Network { get; }

    public TestEchoHandler Echo { get; } = new();

    private List<IDisposable> Bindings { get; }

    /// <summary>
    /// Creates the namespace, starts the TUN side inside it and binds the echo handler; <paramref name="offloads"/>
    /// other than <see cref="TunOffloads.Full"/> runs a kernel's step-down path.
    /// </summary>
    internal static async Task<TunHarness> StartAsync(string tag, TunOffloads offloads = TunOffloads.Full)
    {
        NetworkNamespace ns = await NetworkNamespace.CreateAsync(tag);
        var meter = new Meter("Gateway.Host.Test." + ns.Name);
        var options = new TunOptions { Enabled = true, Name = "gw0", Addresses = ["10.30.30.1/24", "fd30::1/64"], Mtu = 1420 };
        try
        {
            TunVirtualNetwork network = await NetnsThread.RunAsync(ns.Name, () =>
            {
                var net = new TunVirtualNetwork(options, NullLoggerFactory.Instance, meter, offloads: offloads);
                net.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
                return net;
            });
            var harness = new TunHarness(ns, network, meter, new List<IDisposable>());
            var guard = new PluginHandlerGuard("echo", NullLogger.Instance, meter);
            foreach (string address in new[] { VirtualV4, VirtualV6 })
            {
                var endpoint = new NetEndpoint(NetAddress.Parse(address), EchoPort);
                harness.Bindings.Add(network.BindDatagram(guard, endpoint, harness.Echo));
                harness.Bindings.Add(network.BindStream(guard, endpoint, harness.Echo));
            }

            return harness;
        }
        catch
        {
            await ns.DisposeAsync();
            meter.Dispose();
            throw;
        }
    }

    /// <summary>Runs a python3 script inside the namespace; returns its result (stdout/stderr/exit code).</summary>
    public Task<CommandResult> PythonAsync(string script, TimeSpan? timeout = null) => NamespacePython.RunAsync(Namespace, script, timeout);

    /// <summary>Like <see cref="PythonAsync"/>, but throws with the output unless the script exits 0; returns stdout.</summary>
    public Task<string> PythonCheckedAsync(string script, TimeSpan? timeout = null) => NamespacePython.RunCheckedAsync(Namespace, script, timeout);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        foreach (IDisposable binding in Bindings)
        {
            binding.Dispose();
        }

        await Network.DisposeAsync();
        await Namespace.DisposeAsync();
        _meter.Dispose();
    }
}
