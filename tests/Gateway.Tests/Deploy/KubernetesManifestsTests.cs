using k8s;
using k8s.Models;
using YamlDotNet.RepresentationModel;

namespace Gateway.Tests.Deploy;

/// <summary>
/// deploy/kubernetes validated offline: every object loads strictly into the Kubernetes API types (an unknown or
/// misspelt field fails, as with kubectl's server-side field validation) and passes the types' Validate(); then the
/// wiring a cluster would only reveal at run time: selectors, port names, probes, the live-reload mount.
/// </summary>
public sealed class KubernetesManifestsTests
{
    private static readonly string Root = FindRoot();
    private static readonly string Kubernetes = Path.Combine(Root, "deploy", "kubernetes");
    private static readonly Dictionary<string, Type> CustomTypes = new() { ["monitoring.coreos.com/v1/ServiceMonitor"] = typeof(ServiceMonitor) };

    [Fact]
    public void Kustomization_EveryObject_LoadsStrictlyAndValidates()
    {
        List<object> objects = Build();

        Assert.Equal(
            ["ConfigMap/gateway-config", "DaemonSet/gateway-node-dns", "Namespace/gateway", "Service/gateway-node-dns", "ServiceMonitor/gateway-node-dns"],
            objects.Select(o => $"{o.GetType().Name.Replace("V1", string.Empty)}/{Metadata(o).Name}").Order());
        Assert.All(objects, o => Assert.True(o is V1Namespace || Metadata(o).NamespaceProperty == "gateway", $"{Metadata(o).Name} is not in the gateway namespace"));
    }

    [Fact]
    public void NodeDns_DaemonSet_HostNetworkProbesAndLiveConfigMount()
    {
        List<object> objects = Build();
        V1DaemonSet daemonSet = objects.OfType<V1DaemonSet>().Single();
        V1PodSpec pod = daemonSet.Spec.Template.Spec;
        V1Container gateway = pod.Containers.Single();

        Assert.True(pod.HostNetwork);
        Assert.Equal("/healthz", gateway.LivenessProbe.HttpGet.Path);
        Assert.Equal("/readyz", gateway.ReadinessProbe.HttpGet.Path);
        Assert.Contains(gateway.Ports, p => p.Name == (string)gateway.LivenessProbe.HttpGet.Port);
        Assert.Equal(["NET_ADMIN", "NET_BIND_SERVICE"], gateway.SecurityContext.Capabilities.Add.Order());
        Assert.Equal(["ALL"], gateway.SecurityContext.Capabilities.Drop);

        // The admin listener is off loopback (hostNetwork): its token comes from a Secret, as the environment override.
        Assert.Equal("gateway-admin", gateway.Env.Single(e => e.Name == "GATEWAY_HOST__ADMIN__TOKEN").ValueFrom.SecretKeyRef.Name);

        // The ConfigMap is mounted as a folder (a subPath mount never sees updates), so edits reach the file watcher.
        V1VolumeMount config = gateway.VolumeMounts.Single(m => m.MountPath == "/etc/gateway");
        Assert.Null(config.SubPath);
        V1ConfigMap configMap = objects.OfType<V1ConfigMap>().Single();
        Assert.Equal(configMap.Metadata.Name, pod.Volumes.Single(v => v.Name == config.Name).ConfigMap.Name);
        Assert.Contains("gateway.yaml", configMap.Data.Keys);
        Assert.Contains(configMap.Data.Keys, k => k.EndsWith(".csx", StringComparison.Ordinal));
    }

    [Fact]
    public void ServiceAndServiceMonitor_SelectTheDaemonSetsPodsAndAdminPort()
    {
        List<object> objects = Build();
        IDictionary<string, string> podLabels = objects.OfType<V1DaemonSet>().Single().Spec.Template.Metadata.Labels;
        V1Service service = objects.OfType<V1Service>().Single();
        ServiceMonitor monitor = objects.OfType<ServiceMonitor>().Single();

        Assert.All(service.Spec.Selector, pair => Assert.Equal(pair.Value, podLabels[pair.Key]));
        Assert.All(monitor.Spec.Selector.MatchLabels, pair => Assert.Equal(pair.Value, service.Metadata.Labels[pair.Key]));
        Assert.All(monitor.Spec.Endpoints, e => Assert.Contains(service.Spec.Ports, p => p.Name == e.Port));
        Assert.Equal("/metrics", monitor.Spec.Endpoints.Single().Path);
        Assert.Equal("gateway-admin", monitor.Spec.Endpoints.Single().Authorization!.Credentials!.Name);
    }

    [Fact]
    public void SidecarExample_LoadsStrictlyAndRunsUnprivileged()
    {
        List<object> objects = Load(File.ReadAllText(Path.Combine(Kubernetes, "sidecar", "deployment.yaml")));
        V1Deployment deployment = objects.OfType<V1Deployment>().Single();
        V1Container sidecar = deployment.Spec.Template.Spec.InitContainers.Single();

        Assert.Equal("Always", sidecar.RestartPolicy);
        Assert.Equal("/readyz", sidecar.StartupProbe.HttpGet.Path);
        Assert.Equal("/healthz", sidecar.LivenessProbe.HttpGet.Path);
        Assert.True(deployment.Spec.Template.Spec.SecurityContext.RunAsNonRoot);
        Assert.Equal(["ALL"], sidecar.SecurityContext.Capabilities.Drop);
        Assert.Contains("gateway.yaml", objects.OfType<V1ConfigMap>().Single().Data.Keys);
    }

    [Theory]
    [InlineData("hostNetwork: true", "hostNetwrok: true")]
    [InlineData("containerPort: 9090", "containerPort: admin-port")]
    [InlineData("path: /healthz", "paht: /healthz")]
    public void DaemonSet_Broken_Rejected(string good, string broken)
    {
        string yaml = File.ReadAllText(Path.Combine(Kubernetes, "daemonset.yaml"));
        Assert.Contains(good, yaml);

        Assert.ThrowsAny<Exception>(() => Load(yaml.Replace(good, broken, StringComparison.Ordinal)));
    }

    [Fact]
    public void KubectlKustomize_WhereInstalled_BuildsTheSameObjects()
    {
        string? kubectl = Environment.GetEnvironmentVariable("PATH")?.Split(':').Select(d => Path.Combine(d, "kubectl")).FirstOrDefault(File.Exists);
        if (kubectl is null)
        {
            // kubectl is not a Debian package here; the hand expansion in Build() is then the only check.
            return;
        }

        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(kubectl, ["kustomize", Kubernetes]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, process.StandardError.ReadToEnd());

        Assert.Equal(Names(Build()), Names(Load(output)));
        static IEnumerable<string> Names(IEnumerable<object> objects) => objects.Select(o => $"{o.GetType().Name}/{Metadata(o).NamespaceProperty}/{Metadata(o).Name}").Order();
    }

    /// <summary>
    /// kustomize's work for this kustomization, by hand (kubectl is not installable from Debian here): the resources,
    /// the generated ConfigMap, the namespace and the common labels.
    /// </summary>
    private static List<object> Build()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(Kubernetes, "kustomization.yaml"))));
        var kustomization = (YamlMappingNode)stream.Documents[0].RootNode;
        string ns = ((YamlScalarNode)kustomization["namespace"]).Value!;
        var objects = new List<object>();
        foreach (YamlScalarNode resource in ((YamlSequenceNode)kustomization["resources"]).Cast<YamlScalarNode>())
        {
            objects.AddRange(Load(File.ReadAllText(Path.Combine(Kubernetes, resource.Value!))));
        }

        foreach (YamlMappingNode generator in ((YamlSequenceNode)kustomization["configMapGenerator"]).Cast<YamlMappingNode>())
        {
            var data = ((YamlSequenceNode)generator["files"]).Cast<YamlScalarNode>()
                .ToDictionary(f => Path.GetFileName(f.Value!), f => File.ReadAllText(Path.Combine(Kubernetes, f.Value!)));
            objects.Add(new V1ConfigMap { ApiVersion = "v1", Kind = "ConfigMap", Metadata = new V1ObjectMeta { Name = ((YamlScalarNode)generator["name"]).Value }, Data = data });
        }

        var labels = ((YamlMappingNode)((YamlSequenceNode)kustomization["labels"])[0]["pairs"]).Children
            .ToDictionary(p => ((YamlScalarNode)p.Key).Value!, p => ((YamlScalarNode)p.Value).Value!);
        foreach (object o in objects)
        {
            V1ObjectMeta metadata = Metadata(o);
            if (o is not V1Namespace)
            {
                metadata.NamespaceProperty = ns;
            }

            metadata.Labels ??= new Dictionary<string, string>();
            foreach ((string key, string value) in labels)
            {
                metadata.Labels[key] = value;
            }
        }

        return objects;
    }

    private static List<object> Load(string yaml)
    {
        List<object> objects = KubernetesYaml.LoadAllFromString(yaml, CustomTypes, strict: true);
        foreach (object o in objects)
        {
            o.GetType().GetMethod("Validate", Type.EmptyTypes)?.Invoke(o, null);
        }

        return objects;
    }

    private static V1ObjectMeta Metadata(object o) => ((IMetadata<V1ObjectMeta>)o).Metadata;

    private static string FindRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "Gateway.sln")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("Gateway.sln not found above " + AppContext.BaseDirectory);
    }
}
