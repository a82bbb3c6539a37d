using System.Net;
using Gateway.EndToEnd.Host;
using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.Kit;

/// <summary>
/// The container image built the local way (deploy/container/build-local.sh: FROM scratch, no base image pulled)
/// and run with podman as its unprivileged user with every capability dropped: it answers DNS from a rule script
/// mounted as the config volume, serves /healthz, and its own HEALTHCHECK passes.
/// </summary>
/// <remarks>
/// The official-image Dockerfile cannot be built on this machine (its base images are pulled from a registry this
/// machine cannot reach); build-local.sh produces the same layout from the published gateway instead. This machine's
/// kernel runs cgroups in hybrid mode, which crun refuses, and the sandbox lacks CAP_SYS_RESOURCE to raise rlimits:
/// the test runs podman with runc and with rlimits below the current ones (<see cref="PodmanRun"/>).
/// </remarks>
public sealed class ContainerImageTests
{
    private const string PodmanRun = "podman --runtime runc run --network host --ulimit nofile=16384:16384 --ulimit nproc=4096:4096";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task LocalImage_RunWithoutCapabilities_AnswersDnsAndHealthz()
    {
        string gateway = await GatewayBuild.GatewayDirectoryAsync();
        string tag = "localhost/gateway-e2e:" + Guid.NewGuid().ToString("N")[..12];
        string name = "gateway-e2e-" + Guid.NewGuid().ToString("N")[..12];
        string config = Path.Combine(Path.GetTempPath(), "gateway-e2e", "container-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.Combine(config, "rules"));
        int dnsPort = EchoClient.FreePort();
        int adminPort = EchoClient.FreePort();
        await File.WriteAllTextAsync(Path.Combine(config, "gateway.yaml"), $"""
            host:
              plugins: [/app/plugins, /var/lib/gateway/plugins]
              admin:
                listen: 127.0.0.1:{adminPort}
            dns-dot:
              listen: ["127.0.0.1:{dnsPort}"]
              rules: [rules/*.csx]
            """);
        await File.WriteAllTextAsync(Path.Combine(config, "rules", "probe.csx"), "Answer(\"probe.test\", \"192.0.2.53\", ttl: 60);\n");
        // The container's user (1654) reads the mounted config; the rules folder must not be writable by others (trust check).
        await ProcessRunner.ShCheckedAsync($"chmod 755 '{config}' '{config}/rules' && chmod 644 '{config}/gateway.yaml' '{config}/rules/probe.csx'");

        await ProcessRunner.ShCheckedAsync($"'{GatewayBuild.RepositoryRoot}/deploy/container/build-local.sh' '{gateway}' '{tag}'", TimeSpan.FromMinutes(5));
        try
        {
            await ProcessRunner.ShCheckedAsync(
                $"{PodmanRun} -d --name {name} --cap-drop=ALL -e GATEWAY_HEALTH_PORT={adminPort} -v '{config}':/etc/gateway:ro {tag}");

            Assert.Equal("192.0.2.53", await DigUntilAnsweredAsync(dnsPort, "probe.test"));
            using var http = new HttpClient();
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{adminPort}/healthz")).StatusCode);
            Assert.Equal(0, (await ProcessRunner.ShAsync($"podman healthcheck run {name}")).ExitCode);
            Assert.Equal("1654", (await ProcessRunner.ShCheckedAsync($"podman inspect --format '{{{{.Config.User}}}}' {name}")).Trim());
            Assert.Equal("[]", (await ProcessRunner.ShCheckedAsync($"podman inspect --format '{{{{.EffectiveCaps}}}}' {name}")).Trim());
        }
        finally
        {
            string logs = (await ProcessRunner.ShAsync($"podman logs {name} 2>&1 | tail -40")).Output;
            await ProcessRunner.ShAsync($"podman rm -f {name}; podman rmi -f {tag}");
            Console.WriteLine(logs);
        }
    }

    /// <summary>kdig until the answer comes: the rule script compiles while the gateway already listens.</summary>
    private static async Task<string> DigUntilAnsweredAsync(int port, string name)
    {
        long deadline = Environment.TickCount64 + (long)Patience.TotalMilliseconds;
        string last = string.Empty;
        while (Environment.TickCount64 < deadline)
        {
            CommandResult result = await ProcessRunner.ShAsync($"kdig @127.0.0.1 -p {port} {name} A +short +time=2 +retry=0");
            last = result.Output.Trim();
            if (result.ExitCode == 0 && result.StdOut.Trim().Length > 0)
            {
                return result.StdOut.Trim();
            }

            await Task.Delay(500);
        }

        throw new TimeoutException($"no DNS answer for {name} from the container on port {port}: {last}");
    }
}
