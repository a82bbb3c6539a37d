using Gateway.Plugins.DnsDot.Rules;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.QueryLog;

/// <summary>What the resolver knows about one answered client query besides its bytes.</summary>
/// <param name="Client">The client's address.</param>
/// <param name="Transport">How the query came in.</param>
/// <param name="Reason">What decided: "rule:…", "list:…", "record", "cache", "upstream", "blocking-paused", …</param>
/// <param name="Blocked">True when the answer is a block.</param>
/// <param name="CacheHit">True when the answer came from the cache.</param>
/// <param name="ClientGroup">The client's <c>clients:</c> group, or null.</param>
/// <param name="Upstream">The upstream that answered, or null.</param>
/// <param name="Started">When the query arrived (Stopwatch ticks).</param>
/// <param name="Finished">When the answer was ready (Stopwatch ticks).</param>
internal readonly record struct QueryRecord(NetAddress Client, DnsTransport Transport, string Reason, bool Blocked, bool CacheHit, string? ClientGroup, string? Upstream, long Started, long Finished);
