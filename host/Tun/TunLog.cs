using Microsoft.Extensions.Logging;

namespace Gateway.Host.Tun;

/// <summary>Log messages of TUN device and its configuration: event ids 3000–3099.</summary>
internal static partial class TunLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "TUN {Name}: read failed (errno {Errno}); the device stops reading")]
    public static partial void ReadFailed(ILogger logger, string name, int errno);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "TUN {Name}: the read loop threw on a batch ({Suppressed} more not logged in the last 10 s); the batch is lost, reading continues")]
    public static partial void LoopFailed(ILogger logger, string name, long suppressed, Exception exception);

    [LoggerMessage(EventId = 3014, Level = LogLevel.Debug, Message = "TUN {Name}: virtio header {VnetHeader}, offloads {Offloads}")]
    public static partial void Offloads(ILogger logger, string name, bool vnetHeader, string offloads);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "TUN {Name} up: addresses {Addresses}, MTU {Mtu}")]
    public static partial void Started(ILogger logger, string name, string addresses, int mtu);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Error, Message = "TUN {Name}: configuring the interface failed ({Reason}); is another program using the name or the addresses?")]
    public static partial void ConfigureFailed(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Warning, Message = "TUN {Name}: a route change failed ({Reason}); traffic for that prefix may not reach the gateway")]
    public static partial void NetlinkFailed(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Warning, Message = "TUN {Name}: IPv6 address {Address} could not be added ({Reason}); IPv6 is disabled on this host or the MTU is below 1280, so the TUN serves IPv4 only. Enable IPv6 (sysctl net.ipv6.conf.all.disable_ipv6=0) for IPv6 virtual endpoints")]
    public static partial void V6Unavailable(ILogger logger, string name, string address, string reason);
}
