using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.WireGuard;

/// <summary>Log messages of the wireguard plugin (event ids 100–199 device, 200–299 UAPI, 300–399 plugin).</summary>
internal static partial class WireGuardLog
{
    [LoggerMessage(100, LogLevel.Information, "peer {Peer}: handshake completed with {Endpoint} ({Role})")]
    public static partial void HandshakeCompleted(ILogger logger, string peer, string endpoint, string role);

    [LoggerMessage(101, LogLevel.Debug, "peer {Peer}: sending handshake initiation to {Endpoint} (attempt {Attempt})")]
    public static partial void SendingInitiation(ILogger logger, string peer, string endpoint, int attempt);

    [LoggerMessage(102, LogLevel.Information, "peer {Peer}: no handshake response after {Attempts} attempts ({Seconds} s); giving up until there is traffic for it")]
    public static partial void HandshakeGaveUp(ILogger logger, string peer, int attempts, double seconds);

    [LoggerMessage(103, LogLevel.Debug, "peer {Peer}: has no endpoint yet; it must contact us first (or set one with `wg set`)")]
    public static partial void NoEndpoint(ILogger logger, string peer);

    [LoggerMessage(104, LogLevel.Debug, "dropped handshake initiation from {Source}: {Reason}")]
    public static partial void InitiationDropped(ILogger logger, string source, string reason);

    [LoggerMessage(105, LogLevel.Information, "peer {Peer}: endpoint changed to {Endpoint} (roaming)")]
    public static partial void EndpointChanged(ILogger logger, string peer, string endpoint);

    [LoggerMessage(106, LogLevel.Debug, "under load: sent a cookie reply to {Source}")]
    public static partial void CookieReplySent(ILogger logger, string source);

    [LoggerMessage(107, LogLevel.Debug, "peer {Peer}: session keys erased after {Seconds} s without a new handshake")]
    public static partial void KeysZeroed(ILogger logger, string peer, double seconds);

    [LoggerMessage(108, LogLevel.Warning, "sending to {Endpoint} failed: {Error}")]
    public static partial void SendFailed(ILogger logger, string endpoint, string error);

    [LoggerMessage(109, LogLevel.Error, "UDP receive loop on {Local} stopped: {Error}")]
    public static partial void ReceiveLoopFailed(ILogger logger, string local, string error);

    [LoggerMessage(110, LogLevel.Debug, "peer {Peer}: received a cookie reply; the next handshake carries mac2")]
    public static partial void CookieReceived(ILogger logger, string peer);

    [LoggerMessage(111, LogLevel.Warning, "UDP GSO on the {Family} socket was refused by the kernel; sending datagrams one by one in each sendmmsg from now on")]
    public static partial void GsoDisabled(ILogger logger, string family);

    [LoggerMessage(112, LogLevel.Debug, "UDP {Family} socket: batched I/O (recvmmsg/sendmmsg, up to {Batch} per call), GSO {Gso}, GRO {Gro}")]
    public static partial void BatchedIo(ILogger logger, string family, int batch, bool gso, bool gro);

    [LoggerMessage(113, LogLevel.Error, "{Loop}: unexpected exception (a bug); counted in wireguard.loop_failures, and the loop goes on")]
    public static partial void LoopFailed(ILogger logger, string loop, Exception exception);

    [LoggerMessage(114, LogLevel.Error, "{Loop}: unexpected exception (a bug), and {Suppressed} more in the last {Seconds} s that were not logged; counted in wireguard.loop_failures, and the loop goes on")]
    public static partial void LoopFailedAgain(ILogger logger, string loop, long suppressed, double seconds, Exception exception);

    [LoggerMessage(303, LogLevel.Information, "peer {Peer}: endpoint {Host} resolved to {Endpoint}")]
    public static partial void EndpointResolved(ILogger logger, string peer, string host, string endpoint);

    [LoggerMessage(304, LogLevel.Warning, "peer {Peer}: endpoint {Reason}; the peer must contact us first (or set an endpoint with `wg set`)")]
    public static partial void EndpointUnresolved(ILogger logger, string peer, string reason);

    [LoggerMessage(310, LogLevel.Information, "config reload: private key changed (public key now {PublicKey}); every session re-keys")]
    public static partial void ReloadPrivateKey(ILogger logger, string publicKey);

    [LoggerMessage(311, LogLevel.Information, "config reload: now listening on UDP port {Port}")]
    public static partial void ReloadListenPort(ILogger logger, int port);

    [LoggerMessage(312, LogLevel.Error, "config reload: cannot listen on UDP port {Wanted} (in use?); still on {Port}")]
    public static partial void ReloadListenPortFailed(ILogger logger, int wanted, int port);

    [LoggerMessage(313, LogLevel.Information, "config reload: peer {Peer} {How}")]
    public static partial void ReloadPeerAdded(ILogger logger, string peer, string how);

    [LoggerMessage(314, LogLevel.Information, "config reload: peer {Peer} removed; its sessions are erased and its packets dropped")]
    public static partial void ReloadPeerRemoved(ILogger logger, string peer);

    [LoggerMessage(315, LogLevel.Information, "config reload: peer {Peer} changed: {Settings}{Override}; its current session is kept")]
    public static partial void ReloadPeerUpdated(ILogger logger, string peer, string settings, string @override);

    [LoggerMessage(316, LogLevel.Information, "config reload: peer {Peer} unchanged in the file; the changes made to it with wg set are kept")]
    public static partial void ReloadRuntimeKept(ILogger logger, string peer);

    [LoggerMessage(317, LogLevel.Information, "config reload applied: {Added} peer(s) added, {Updated} changed, {Removed} removed{Rekeyed}; unchanged peers untouched")]
    public static partial void Reloaded(ILogger logger, int added, int updated, int removed, string rekeyed);

    [LoggerMessage(318, LogLevel.Error, "config reload: {Key}: {Message}; the running WireGuard configuration is kept")]
    public static partial void ReloadRefused(ILogger logger, string key, string message);

    [LoggerMessage(319, LogLevel.Information, "config reload: no privateKey or privateKeyFile any more; WireGuard stopped")]
    public static partial void ReloadStopped(ILogger logger);

    [LoggerMessage(200, LogLevel.Information, "UAPI listening on {Path} (wg show / wg set {Interface})")]
    public static partial void UapiListening(ILogger logger, string path, string @interface);

    [LoggerMessage(201, LogLevel.Warning, "UAPI request failed with errno {Errno}: {Reason}")]
    public static partial void UapiRequestFailed(ILogger logger, int errno, string reason);

    [LoggerMessage(203, LogLevel.Error, "UAPI set request failed inside the gateway (a bug); the client got errno -5 and the gateway keeps serving")]
    public static partial void UapiHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(202, LogLevel.Warning, "UAPI socket {Path} could not be created: {Error}; `wg` will not see this interface")]
    public static partial void UapiUnavailable(ILogger logger, string path, string error);

    [LoggerMessage(300, LogLevel.Warning, "WireGuard needs the TUN device: set host.tun.enabled: true (and run as root); the wireguard section is ignored until then")]
    public static partial void NeedsTun(ILogger logger);

    [LoggerMessage(301, LogLevel.Information, "WireGuard interface {Interface}: public key {PublicKey}, listening on UDP port {Port}, {Peers} peer(s)")]
    public static partial void Started(ILogger logger, string @interface, string publicKey, int port, int peers);

    [LoggerMessage(302, LogLevel.Information, "wireguard section is empty (no privateKey): WireGuard stays off")]
    public static partial void NotConfigured(ILogger logger);

    [LoggerMessage(320, LogLevel.Information, "plugin swap: UDP port {Port} and the UAPI socket handed to the new version; this version serves no more tunnel traffic")]
    public static partial void Released(ILogger logger, int port);

    [LoggerMessage(321, LogLevel.Warning, "plugin swap: the new version did not start; this version listens on UDP port {Port} again, its sessions kept")]
    public static partial void Reclaimed(ILogger logger, int port);

    [LoggerMessage(322, LogLevel.Information, "plugin swap: took over from the previous version; handshaking now with {Peers} peer(s) that have an endpoint (their sessions were with the old version)")]
    public static partial void TakingOver(ILogger logger, int peers);
}
