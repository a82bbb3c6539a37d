using k8s;
using k8s.Models;

namespace Gateway.Tests.Deploy;

/// <summary>
/// The Prometheus operator's ServiceMonitor (monitoring.coreos.com/v1), as a test fixture: the fields of the CRD's
/// schema that a ServiceMonitor for the gateway may use. Loaded strictly, an unknown or misspelt field fails.
/// </summary>
public sealed class ServiceMonitor : IKubernetesObject<V1ObjectMeta>
{
    public string ApiVersion { get; set; } = "monitoring.coreos.com/v1";

    public string Kind { get; set; } = "ServiceMonitor";

    public V1ObjectMeta Metadata { get; set; } = new();

    public ServiceMonitorSpec Spec { get; set; } = new();

    public sealed class ServiceMonitorSpec
    {
        public string? JobLabel { get; set; }

        public List<string>? TargetLabels { get; set; }

        public List<string>? PodTargetLabels { get; set; }

        public List<Endpoint> Endpoints { get; set; } = [];

        public V1LabelSelector Selector { get; set; } = new();

        public NamespaceSelectorSpec? NamespaceSelector { get; set; }

        public long? SampleLimit { get; set; }
    }

    public sealed class NamespaceSelectorSpec
    {
        public bool? Any { get; set; }

        public List<string>? MatchNames { get; set; }
    }

    public sealed class Endpoint
    {
        public string? Port { get; set; }

        public IntOrString? TargetPort { get; set; }

        public string? Path { get; set; }

        public string? Scheme { get; set; }

        public Dictionary<string, List<string>>? Params { get; set; }

        public string? Interval { get; set; }

        public string? ScrapeTimeout { get; set; }

        public bool? HonorLabels { get; set; }

        public V1SecretKeySelector? BearerTokenSecret { get; set; }

        public SafeAuthorization? Authorization { get; set; }
    }

    public sealed class SafeAuthorization
    {
        public string? Type { get; set; }

        public V1SecretKeySelector? Credentials { get; set; }
    }

    /// <summary>What the operator requires: a selector and at least one endpoint naming a port.</summary>
    public void Validate()
    {
        if (Spec.Endpoints.Count == 0 || Spec.Endpoints.Exists(e => e.Port is null && e.TargetPort is null))
        {
            throw new ArgumentException("ServiceMonitor: every endpoint needs port or targetPort");
        }
    }
}
