// Local answers and blocks for the container's DNS; edit and save: the gateway reloads rules without a restart.
Answer("gateway.internal", "127.0.0.1", ttl: 60);
Rule(q => q.Type == DnsType.ANY ? Verdict.Refused : Verdict.Continue);
