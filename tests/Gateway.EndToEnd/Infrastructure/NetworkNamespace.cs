using System.Globalization;

namespace Gateway.EndToEnd.Infrastructure;

/// <summary>
/// A network namespace created by a test ("gwt-&lt;tag&gt;-&lt;n&gt;"), with loopback up, deleted (with every
/// process still inside it killed) on dispose. Only addresses inside namespaces the tests created are
/// ever used as targets.
/// </summary>
public sealed class NetworkNamespace : IAsyncDisposable
{
    private static int s_counter;

    private NetworkNamespace(string name) => Name = name;

    /// <summary>The namespace name, for <c>ip netns exec</c>.</summary>
    public string Name { get; }

    /// <summary>Creates a namespace with loopback up.</summary>
    public static async Task<NetworkNamespace> CreateAsync(string tag)
    {
        string name = $"gwt-{tag}-{Environment.ProcessId % 10000}-{Interlocked.Increment(ref s_counter)}";
        await ProcessRunner.ShCheckedAsync($"ip netns del {name} 2>/dev/null; ip netns add {name} && ip -n {name} link set lo up");
        return new NetworkNamespace(name);
    }

    /// <summary>Runs a shell command line inside the namespace.</summary>
    public Task<CommandResult> ShAsync(string commandLine, TimeSpan? timeout = null) =>
        ProcessRunner.RunAsync("ip", ["netns", "exec", Name, "bash", "-c", commandLine], timeout);

    /// <summary>Runs a shell command line inside the namespace and throws with its output when it fails.</summary>
    public async Task<string> ShCheckedAsync(string commandLine, TimeSpan? timeout = null)
    {
        CommandResult result = await ShAsync(commandLine, timeout);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"[{Name}] '{commandLine}' exited {result.ExitCode}: {result.Output}");
        }

        return result.StdOut;
    }

    /// <summary>Starts a long-running process inside the namespace.</summary>
    public BackgroundProcess Start(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment = null, string? name = null) =>
        BackgroundProcess.Start("ip", ["netns", "exec", Name, fileName, .. arguments], environment, name ?? Path.GetFileName(fileName));

    /// <summary>
    /// Connects this namespace and <paramref name="other"/> with a veth pair, giving each side an address
    /// (CIDR, for example "192.168.77.1/24"); the interfaces are named &lt;prefix&gt;a / &lt;prefix&gt;b.
    /// </summary>
    public async Task ConnectAsync(NetworkNamespace other, string thisAddress, string otherAddress, string prefix = "veth")
    {
        string a = $"{prefix}a", b = $"{prefix}b";
        await ProcessRunner.ShCheckedAsync(
            $"ip link add {a} netns {Name} type veth peer name {b} netns {other.Name} && " +
            $"ip -n {Name} addr add {thisAddress} dev {a} && ip -n {other.Name} addr add {otherAddress} dev {b} && " +
            $"ip -n {Name} link set {a} up && ip -n {other.Name} link set {b} up");
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        // Kill whatever is still running inside, then delete the namespace.
        await ProcessRunner.ShAsync($"for p in $(ip netns pids {Name} 2>/dev/null); do kill -9 $p 2>/dev/null; done; sleep 0.1; ip netns del {Name} 2>/dev/null; true");
    }

    /// <summary>A free-ish port number for tests (random in 20000–59999).</summary>
    public static int RandomPort() => Random.Shared.Next(20000, 60000);

    /// <inheritdoc/>
    public override string ToString() => Name.ToString(CultureInfo.InvariantCulture);
}
