using System.CommandLine;
using Gateway.Host.Configuration;
using Gateway.Host.Plugins;
using Gateway.Host.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Gateway.Host.Cli;

/// <summary>
/// The command line (DESIGN §6): <c>gateway [run] --config FILE [--verbosity error|warn|info|debug]</c> and
/// <c>gateway check --config FILE</c>. Exit codes: 0 success (and after SIGINT/SIGTERM), 1 start failure, 2 config errors.
/// </summary>
internal static class GatewayCommandLine
{
    /// <summary>Exit code: clean stop or config OK.</summary>
    public const int ExitOk = 0;

    /// <summary>Exit code: the gateway could not start for a reason other than its configuration.</summary>
    public const int ExitStartFailure = 1;

    /// <summary>Exit code: the configuration has errors (printed as file:line:col: key.path: message).</summary>
    public const int ExitConfigError = 2;

    /// <summary>Exit code of status/peers/top: the admin API is unreachable, refused the token or failed.</summary>
    public const int ExitUnreachable = 1;

    /// <summary>Exit code of peers/top: the plugin (or its route) is not loaded in the running gateway.</summary>
    public const int ExitNotLoaded = 3;

    public static Task<int> InvokeAsync(string[] args)
    {
        var config = new Option<string?>("--config", "-c")
        {
            Description = "The config file. Default: ./gateway.yaml, else gateway.yaml next to the executable.",
            Recursive = true,
        };
        var verbosity = new Option<string?>("--verbosity", "-v")
        {
            Description = "Minimum log level: error, warn, info or debug. Default: host.logLevel, else info.",
            Recursive = true,
        };
        verbosity.AcceptOnlyFromAmong(VerbosityNames.All);

        var run = new Command("run", "Run the gateway in the foreground until SIGINT/SIGTERM (the default command).");
        var check = new Command("check", "Validate the config (and every plugin's section, compiling rule scripts); start nothing. Exit 0 when OK, 2 with every error.");
        var root = new RootCommand("Gateway: a plugin-hosted network gateway (DNS over TLS, WireGuard, HTTP proxy, your plugins).");
        root.Options.Add(config);
        root.Options.Add(verbosity);
        root.Subcommands.Add(run);
        root.Subcommands.Add(check);
        AddApiCommands(root, config);

        Func<ParseResult, CancellationToken, Task<int>> runAction = (result, _) => RunAsync(result.GetValue(config), result.GetValue(verbosity));
        root.SetAction(runAction);
        run.SetAction(runAction);
        check.SetAction((result, _) => CheckAsync(result.GetValue(config), result.GetValue(verbosity)));

        // The hosting console lifetime handles SIGINT/SIGTERM; System.CommandLine must not also do so.
        return root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }

    /// <summary>status, peers and top: read a running gateway's admin API (<see cref="StatusCommands"/>).</summary>
    private static void AddApiCommands(RootCommand root, Option<string?> config)
    {
        var admin = new Option<string?>("--admin")
        {
            Description = "The admin API's URL or ip:port. Default: host.admin.listen of the config.",
            Recursive = true,
        };
        var token = new Option<string?>("--token")
        {
            Description = "The admin token. Default: host.admin.token or tokenFile of the config.",
            Recursive = true,
        };
        var json = new Option<bool>("--json") { Description = "Print the API's JSON instead of text.", Recursive = true };
        foreach ((string name, string description) in new[]
        {
            ("status", "Show a running gateway's status: version, uptime, config and last reload, plugins, listeners, DNS numbers. Exit 0, 1 unreachable/refused, 2 config error."),
            ("peers", "Show a running gateway's WireGuard peers (as wg show). Exit 0, 1 unreachable/refused, 2 config error, 3 wireguard not loaded."),
            ("top", "Show a running gateway's top DNS names, clients and blocked names (last hour). Exit 0, 1, 2, or 3 dns-dot not loaded."),
        })
        {
            var command = new Command(name, description);
            command.Options.Add(admin);
            command.Options.Add(token);
            command.Options.Add(json);
            command.SetAction((result, _) => StatusCommands.RunAsync(name, result.GetValue(config), result.GetValue(admin), result.GetValue(token), result.GetValue(json), Console.Out, Console.Error));
            root.Subcommands.Add(command);
        }
    }

    /// <summary>The config path: the option, else ./gateway.yaml when present, else &lt;app&gt;/gateway.yaml.</summary>
    public static string ResolveConfigPath(string? option)
    {
        if (!string.IsNullOrEmpty(option))
        {
            return Path.GetFullPath(option);
        }

        string local = Path.GetFullPath("gateway.yaml");
        string beside = Path.Combine(AppContext.BaseDirectory, "gateway.yaml");
        return File.Exists(local) || !File.Exists(beside) ? local : beside;
    }

    /// <summary><c>gateway check</c>: prints "config OK ..." (exit 0) or every error to stderr (exit 2).</summary>
    public static async Task<int> CheckAsync(string? configOption, string? verbosity, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        string path = ResolveConfigPath(configOption);

        // Errors are the output of check; logs only when asked for.
        LogLevel level = verbosity is not null && VerbosityNames.TryParse(verbosity, out LogLevel asked) ? asked : LogLevel.None;
        using ILoggerFactory loggerFactory = CreateLoggerFactory(new LevelSwitch(level), toStandardError: true);
        await using var runtime = new GatewayRuntime(path, AppContext.BaseDirectory, loggerFactory, Environment.GetEnvironmentVariables(), stdout);
        var errors = new List<ConfigError>();
        try
        {
            runtime.Prepare();
        }
        catch (ConfigException ex)
        {
            errors.AddRange(ex.Errors);
        }

        if (runtime.Plugins is not null)
        {
            foreach (PluginHandle plugin in runtime.Plugins.Plugins)
            {
                if (plugin.Plugin is null)
                {
                    errors.Add(new ConfigError(plugin.Folder, 0, 0, string.Empty, "plugin not loaded: " + plugin.Failure));
                }
            }
        }

        // Sections of plugins that are not loaded: said, not refused (the plugin may be dropped in later).
        foreach (ConfigError warning in runtime.Warnings)
        {
            await stderr.WriteLineAsync("warning: " + warning);
        }

        if (errors.Count > 0)
        {
            foreach (ConfigError error in errors)
            {
                await stderr.WriteLineAsync(error.ToString());
            }

            await stderr.WriteLineAsync($"{errors.Count} error(s) in {path}");
            return ExitConfigError;
        }

        foreach (ConfigError warning in runtime.Plugins!.Warnings)
        {
            await stderr.WriteLineAsync(warning.ToString());
        }

        GatewayConfig config = runtime.Config;
        string[] ids = runtime.Plugins!.Plugins.Select(p => p.Id).ToArray();
        int endpoints = config.Sections.Values.Sum(s => s.Endpoints.Count);
        await stdout.WriteLineAsync(
            $"config OK: {path}: plugins {(ids.Length == 0 ? "none" : string.Join(", ", ids))}; {endpoints} endpoint(s); " +
            $"tun {(config.Host.Tun.Enabled ? "enabled (" + config.Host.Tun.Name + ")" : "disabled")}; " +
            $"admin {(config.Host.Admin.Listen?.ToString() ?? "off")}; statsd {(config.Host.Statsd.Address?.ToString() ?? "off")}");
        return ExitOk;
    }

    /// <summary><c>gateway run</c>: exit 2 on config errors before anything starts, 1 on other start failures, 0 after SIGINT/SIGTERM.</summary>
    public static async Task<int> RunAsync(string? configOption, string? verbosity)
    {
        StartupJitProfile.Start("run");
        string path = ResolveConfigPath(configOption);
        var levels = new LevelSwitch(VerbosityNames.TryParse(verbosity, out LogLevel asked) ? asked : LogLevel.Information);
        using ILoggerFactory loggerFactory = CreateLoggerFactory(levels, toStandardError: false);
        ILogger logger = loggerFactory.CreateLogger("Gateway.Host");
        await using var runtime = new GatewayRuntime(path, AppContext.BaseDirectory, loggerFactory, Environment.GetEnvironmentVariables());
        try
        {
            runtime.Prepare(beforeStart: true);
        }
        catch (ConfigException ex)
        {
            foreach (ConfigError error in ex.Errors)
            {
                await Console.Error.WriteLineAsync(error.ToString());
            }

            await Console.Error.WriteLineAsync($"gateway not started: {ex.Errors.Count} config error(s) in {path}");
            return ExitConfigError;
        }

        if (verbosity is null && runtime.Config.Host.LogLevel is { } configured)
        {
            levels.Level = configured;
        }

        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings
        {
            DisableDefaults = true,
            ContentRootPath = runtime.Config.Document.Directory,
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.Configure<ConsoleLifetimeOptions>(options => options.SuppressStatusMessages = true);
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.Services.AddSingleton(runtime);
        builder.Services.AddHostedService<GatewayHostedService>();
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier, Microsoft.Extensions.Hosting.Systemd.SystemdNotifier>();
        builder.Services.AddHostedService<SystemdNotifyService>();
        try
        {
            using IHost host = builder.Build();
            await host.RunAsync();
            return ExitOk;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            CliLog.StartFailed(logger, ex.Message);
            return ExitStartFailure;
        }
    }

    private static ILoggerFactory CreateLoggerFactory(LevelSwitch levels, bool toStandardError) =>
        LoggerFactory.Create(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Trace);
            logging.AddFilter((_, category, level) => levels.IsEnabled(category, level));
            logging.AddSimpleConsole(options =>
            {
                options.SingleLine = true;
                options.IncludeScopes = false;
                options.TimestampFormat = "HH:mm:ss.fff ";
                options.UseUtcTimestamp = true;
            });
            logging.AddConsole(options => options.LogToStandardErrorThreshold = toStandardError ? LogLevel.Trace : LogLevel.None);
        });
}
