using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Tun;

/// <summary>Runs python3 scripts inside a test's network namespace (the clients of the TUN tests).</summary>
public static class NamespacePython
{
    /// <summary>Runs <paramref name="script"/> with python3 inside <paramref name="ns"/>; returns its result.</summary>
    public static async Task<CommandResult> RunAsync(NetworkNamespace ns, string script, TimeSpan? timeout = null)
    {
        string path = Path.Combine(Path.GetTempPath(), $"gwt-{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(path, script);
        try
        {
            return await ProcessRunner.RunAsync("ip", ["netns", "exec", ns.Name, "python3", path], timeout ?? TimeSpan.FromSeconds(120));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Like <see cref="RunAsync"/>, but fails the test with the output unless the script exits 0; returns stdout.</summary>
    public static async Task<string> RunCheckedAsync(NetworkNamespace ns, string script, TimeSpan? timeout = null)
    {
        CommandResult result = await RunAsync(ns, script, timeout);
        Assert.True(result.ExitCode == 0, $"python3 exited {result.ExitCode}: {result.Output}");
        return result.StdOut;
    }

    /// <summary>
    /// A script that sends a UDP datagram to port 9999 and connects TCP to port 9998 of <paramref name="address"/>,
    /// printing "udp: refused" / "tcp: refused" when the gateway answers with port unreachable / RST.
    /// </summary>
    public static string ClosedPortsProbe(string family, string address) => $$"""
        import socket
        u = socket.socket(socket.{{family}}, socket.SOCK_DGRAM)
        u.settimeout(5)
        u.connect(("{{address}}", 9999))
        u.send(b"anyone?")
        try:
            u.recv(100)
            print("udp: answered")
        except ConnectionRefusedError:
            print("udp: refused")
        t = socket.socket(socket.{{family}}, socket.SOCK_STREAM)
        t.settimeout(5)
        try:
            t.connect(("{{address}}", 9998))
            print("tcp: connected")
        except ConnectionRefusedError:
            print("tcp: refused")
        """;
}
