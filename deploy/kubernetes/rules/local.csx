// Node-local rules: edit the ConfigMap (kubectl edit configmap gateway-config -n gateway); the kubelet updates the
// mounted file within a minute and the gateway recompiles the rules without a restart.
Refuse("internal.test");
Rule(q => q.Type == DnsType.ANY ? Verdict.Refused : Verdict.Continue);
