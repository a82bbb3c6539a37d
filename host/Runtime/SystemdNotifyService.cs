using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Runtime;

/// <summary>
/// systemd's notify protocol (sd_notify(3)) for <c>Type=notify</c> units, through Microsoft.Extensions.Hosting.Systemd's
/// <see cref="SystemdNotifier"/>: READY=1 once the host started — after every plugin was started or reported failed,
/// since the gateway's hosted service finishes starting only then — STOPPING=1 when shutdown begins, and WATCHDOG=1
/// every half of WATCHDOG_USEC when the unit sets WatchdogSec=. Like sd_notify it acts whenever NOTIFY_SOCKET is set
/// (systemd, or a supervisor or test that speaks the protocol), and does nothing otherwise.
/// </summary>
internal sealed class SystemdNotifyService : IHostedService, IDisposable
{
    private readonly ISystemdNotifier _notifier;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly List<CancellationTokenRegistration> _registrations = [];
    private Timer? _watchdog;

    public SystemdNotifyService(ISystemdNotifier notifier, IHostApplicationLifetime lifetime, ILoggerFactory loggerFactory)
    {
        _notifier = notifier;
        _lifetime = lifetime;
        _logger = loggerFactory.CreateLogger("Gateway.Host");
    }

    /// <summary>
    /// The watchdog interval systemd asks for (WATCHDOG_USEC, when WATCHDOG_PID is unset or this process), halved as
    /// sd_watchdog_enabled(3) recommends; null when the watchdog is off.
    /// </summary>
    public static TimeSpan? WatchdogInterval(Func<string, string?> environment, int processId)
    {
        if (!long.TryParse(environment("WATCHDOG_USEC"), out long microseconds) || microseconds <= 0)
        {
            return null;
        }

        string? pid = environment("WATCHDOG_PID");
        if (!string.IsNullOrEmpty(pid) && pid != processId.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            return null;
        }

        return TimeSpan.FromMicroseconds(microseconds / 2.0);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_notifier.IsEnabled)
        {
            return Task.CompletedTask;
        }

        _registrations.Add(_lifetime.ApplicationStarted.Register(() =>
        {
            _notifier.Notify(new ServiceState("READY=1\nSTATUS=serving"));
            RuntimeLog.SystemdNotified(_logger, "READY=1");
        }));
        _registrations.Add(_lifetime.ApplicationStopping.Register(() =>
        {
            _watchdog?.Dispose();
            _notifier.Notify(new ServiceState("STOPPING=1\nSTATUS=stopping"));
            RuntimeLog.SystemdNotified(_logger, "STOPPING=1");
        }));

        if (WatchdogInterval(Environment.GetEnvironmentVariable, Environment.ProcessId) is { } interval)
        {
            // A ping from the thread pool: a gateway whose pool is wedged stops pinging and systemd restarts it.
            _watchdog = new Timer(_ => _notifier.Notify(new ServiceState("WATCHDOG=1")), null, TimeSpan.Zero, interval);
            RuntimeLog.SystemdWatchdog(_logger, interval.TotalSeconds);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        _watchdog?.Dispose();
        foreach (CancellationTokenRegistration registration in _registrations)
        {
            registration.Dispose();
        }
    }
}
