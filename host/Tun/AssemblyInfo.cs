using System.Runtime.CompilerServices;

// The end-to-end tests drive the TUN side in-process inside a network namespace (tests/Gateway.EndToEnd/Tun).
[assembly: InternalsVisibleTo("Gateway.EndToEnd")]
