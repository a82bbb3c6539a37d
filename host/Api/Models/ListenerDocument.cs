namespace Gateway.Host.Api.Models;

/// <summary>One served endpoint.</summary>
/// <param name="Owner">The plugin id, or "admin" for the admin listener.</param>
/// <param name="Protocol">"udp", "tcp", or "http" for the admin listener.</param>
/// <param name="Endpoint">"ip:port".</param>
/// <param name="Kind">"hostSocket" (a socket of this host), "virtual" (on the TUN) or "admin".</param>
internal sealed record ListenerDocument(string Owner, string Protocol, string Endpoint, string Kind);
