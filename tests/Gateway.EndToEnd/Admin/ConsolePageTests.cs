using System.Text.RegularExpressions;
using Gateway.EndToEnd.DnsDot;
using Gateway.EndToEnd.Host;
using Gateway.EndToEnd.Infrastructure;
using Microsoft.Playwright;

namespace Gateway.EndToEnd.Admin;

/// <summary>
/// The console page of the published gateway in Debian's chromium, driven by Playwright (issue 17): signed in once
/// with <c>/?token=…</c> while DNS load runs, its qps chart shows non-zero values that rise with the load, a blocked
/// query shows up in the query log table within 2 s with its rule, it lists the plugins, shows a broken config edit
/// with its file:line:col, says "not loaded" for a plugin route that is absent, and keeps screenshots under the
/// test's output folder (artifacts/).
/// </summary>
public sealed class ConsolePageTests
{
    private const string Token = "page-test-token-0123456789abcdef";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private const double LowRate = 10;
    private const double HighRate = 100;

    /// <summary>Debian's chromium; Playwright never downloads a browser of its own here.</summary>
    private const string Chromium = "/usr/bin/chromium";

    private static readonly string[] ChromiumArgs =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run",
    ];

    [Fact]
    public async Task Page_UnderDnsLoad_ChartRisesBlockedQueryShowsPluginsListedConfigErrorShown()
    {
        string folder = Path.Combine(Path.GetTempPath(), "gateway-e2e", "page-" + Guid.NewGuid().ToString("N")[..12]);
        string tokenFile = await AdminToken.WriteAsync(folder, Token);
        int adminPort = EchoClient.FreePort();
        int dnsPort = EchoClient.FreePort();
        string yaml = Config(adminPort, tokenFile, dnsPort, EchoClient.FreePort());
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(yaml, files: new Dictionary<string, string> { ["rules/block.csx"] = "Block(\"blocked.page.test\");\n" });
        await using var load = new DnsLoad(dnsPort, LowRate);

        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ChromiumArgs,
        });
        IPage page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 1600 } });
        page.SetDefaultTimeout((float)Patience.TotalMilliseconds);
        Assertions.SetDefaultExpectTimeout((float)TimeSpan.FromSeconds(20).TotalMilliseconds);
        var problems = new List<string>();
        page.Console += (_, message) =>
        {
            // The browser logs every 4xx fetch; the page handles those (a 404 is a "not loaded" panel).
            if (message.Type is "error" or "warning" && !message.Text.StartsWith("Failed to load resource", StringComparison.Ordinal))
            {
                lock (problems)
                {
                    problems.Add(message.Text);
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (problems)
            {
                problems.Add(error);
            }
        };

        await page.GotoAsync($"http://127.0.0.1:{adminPort}/?token={Token}");

        // The token left the address bar (303 to /) and the cookie carries the session.
        Assert.Equal($"http://127.0.0.1:{adminPort}/", page.Url);
        BrowserContextCookiesResult cookie = Assert.Single(await page.Context.CookiesAsync());
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);

        ILocator plugins = page.Locator("#plugins tbody tr");
        await Assertions.Expect(page.Locator("#live")).ToHaveTextAsync("live");
        Assert.True(problems.Count == 0, "the page reported: " + string.Join(" | ", problems));
        await Assertions.Expect(plugins).ToHaveCountAsync(3);
        string table = await page.Locator("#plugins").InnerTextAsync();
        foreach (string id in new[] { "dns-dot", "http-proxy", "wireguard" })
        {
            Assert.Matches(new Regex($@"{id}\s.*running"), table);
        }

        // The qps chart under load: non-zero at the low rate, and higher once the load rises.
        double low = await SettledQpsAsync(page);
        Assert.True(low > 0, "the qps chart shows no queries under load");
        load.Rate = HighRate;
        double high = await SettledQpsAsync(page);
        Assert.True(high > 3 * low, $"the qps chart did not rise with the load: {low:F1} q/s at {LowRate}/s, {high:F1} q/s at {HighRate}/s");
        double[] average = (await QpsChartAsync(page))[2];
        Assert.True(average[^1] > average[0], "the 60 s average did not rise: " + string.Join(", ", average));
        Assert.True(load.Answers > 0);

        // A blocked query, sent while the load goes on at the low rate (its row stays among the newest 100 for a
        // while): the table shows it within 2 s of its answer, with the rule that blocked it.
        load.Rate = LowRate;
        byte[]? blocked = await DnsDotClient.UdpAsync(dnsPort, DnsDotClient.Query("blocked.page.test", 1, 7), TimeSpan.FromSeconds(10));
        var sinceAnswer = System.Diagnostics.Stopwatch.StartNew();
        Assert.NotNull(blocked);
        Assert.Equal(3, DnsDotClient.Rcode(blocked));
        ILocator row = page.Locator("#querylog tbody tr", new PageLocatorOptions { HasText = "blocked.page.test" }).First;
        await Assertions.Expect(row).ToContainTextAsync(new Regex(@"blocked NXDOMAIN\s*rule:\S*block\.csx:1"), new LocatorAssertionsToContainTextOptions { Timeout = 10_000 });
        Assert.True(sinceAnswer.Elapsed < TimeSpan.FromSeconds(2), $"the blocked query took {sinceAnswer.Elapsed.TotalSeconds:F1} s to show in the table");
        string artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(artifacts);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(artifacts, "console-page-load.png"), FullPage = true });

        // Each plugin panel either shows its data or, when its route answers 404 (plugin or route absent), says
        // "not loaded" — never an empty or broken panel.
        foreach ((string id, string route) in new[] { ("dns-dot", "stats"), ("wireguard", "peers"), ("http-proxy", "stats") })
        {
            int status = await page.EvaluateAsync<int>($"fetch('/api/v1/plugins/{id}/{route}').then(r => r.status)");
            ILocator absent = page.Locator($"section[data-plugin=\"{id}\"] .absent").First;
            if (status == 404)
            {
                await Assertions.Expect(absent).ToBeVisibleAsync();
                await Assertions.Expect(absent).ToContainTextAsync($"{id}: not loaded");
            }
            else
            {
                Assert.Equal(200, status);
                await Assertions.Expect(absent).ToBeHiddenAsync();
            }
        }

        // A broken edit of gateway.yaml: the watcher rejects it and the page shows where.
        await File.WriteAllTextAsync(gateway.ConfigPath, yaml.Replace("listen: [127.0.0.1:", "listen: [127.0.0.1:x", StringComparison.Ordinal));
        ILocator errors = page.Locator("#config-errors li").First;
        await Assertions.Expect(errors).ToContainTextAsync(new Regex(Regex.Escape(gateway.ConfigPath) + @":\d+:\d+: "));
        await Assertions.Expect(page.Locator("#config-state")).ToContainTextAsync("the running config is kept");

        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(artifacts, "console-page.png"), FullPage = true });

        // A phone: the same page at 390 px wide stays usable (no horizontal scrolling of the whole page).
        // The charts follow the new width from a ResizeObserver, which runs at the next rendering step, so the page
        // gets a few frames to settle; what still sticks out past the right edge then is named in the failure.
        await page.SetViewportSizeAsync(390, 844);
        bool fits;
        try
        {
            await page.WaitForFunctionAsync("document.documentElement.scrollWidth <= window.innerWidth + 1", null, new PageWaitForFunctionOptions { Timeout = 5_000 });
            fits = true;
        }
        catch (TimeoutException)
        {
            fits = false;
        }

        string overflow = fits ? "" : await page.EvaluateAsync<string>(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)" +
            ".slice(0, 8).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right) + 'px').join(', ')");
        Assert.True(fits, $"at 390 px the page scrolls sideways: {overflow}");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(artifacts, "console-page-phone.png"), FullPage = true });
        Directory.Delete(folder, recursive: true);
    }

    /// <summary>
    /// The "now" series of the qps chart once it has three samples taken wholly after this call (each sample is the
    /// query count between two polls), as their median: what a user reads off the chart at the current load.
    /// </summary>
    private static async Task<double> SettledQpsAsync(IPage page)
    {
        double since = await page.EvaluateAsync<double>("Date.now() / 1000");
        long deadline = Environment.TickCount64 + (long)Patience.TotalMilliseconds;
        while (true)
        {
            double[][] data = await QpsChartAsync(page);
            // A sample at t[i] counts the queries since t[i-1]; it is "after" when t[i-1] is.
            double[] settled = Enumerable.Range(1, Math.Max(0, data[0].Length - 1)).Where(i => data[0][i - 1] > since && data[1][i] >= 0).Select(i => data[1][i]).ToArray();
            if (settled.Length >= 3)
            {
                double[] last = settled[^3..].Order().ToArray();
                return last[1];
            }

            Assert.True(Environment.TickCount64 < deadline, "the qps chart got no new samples");
            await Task.Delay(250);
        }
    }

    /// <summary>The data the qps chart draws: times, "now" and "60 s average" (a gap as -1).</summary>
    private static Task<double[][]> QpsChartAsync(IPage page) =>
        page.EvaluateAsync<double[][]>("window.gatewayConsole.charts['chart-qps'].data.map(series => series.map(v => v ?? -1))");

    private static string Config(int adminPort, string tokenFile, int dnsPort, int proxyPort)
    {
        const string Upstream = "{ address: \"127.0.0.1:9\", tlsName: unused.test }";
        return $"""
            host:
              admin:
                listen: 127.0.0.1:{adminPort}
                tokenFile: {tokenFile}
            dns-dot:
              listen: [127.0.0.1:{dnsPort}]
              upstreams: [{Upstream}]
              records: ["*.load.test 60 A 10.0.0.1"]
              rules: ["rules/*.csx"]
            http-proxy:
              listen: [127.0.0.1:{proxyPort}]
            """;
    }
}
