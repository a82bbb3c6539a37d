// Rules in C#: a lambda per query, in declaration order; return Verdict.Continue to let the next rule decide.
// Build sets and verdicts once, outside the lambdas: per query they then cost no allocation.
var lan = ClientIn("10.0.0.0/8", "192.168.0.0/16", "fd00::/8");
var games = Names("games.example.test", "videos.example.test");
var sinkhole = Verdict.Answer("0.0.0.0", ttl: 60);

// ANY queries are an amplification vector (RFC 8482): refuse them.
Rule("refuse-any", q => q.Type == DnsType.ANY ? Verdict.Refused : Verdict.Continue);

// Only clients on the LAN may resolve these; others get a sinkhole address.
Rule("games-lan-only", q => games.Contains(q) && !lan.Contains(q) ? sinkhole : Verdict.Continue);

// Reverse lookups for private ranges never leave the gateway.
Rule("private-ptr", q => q.Type == DnsType.PTR && q.Name.EndsWith(".10.in-addr.arpa") ? Verdict.NxDomain : Verdict.Continue);
