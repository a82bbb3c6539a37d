using System.Text.RegularExpressions;
using Gateway.EndToEnd.Host;
using Gateway.EndToEnd.Infrastructure;
using Microsoft.Playwright;

namespace Gateway.EndToEnd.Admin;

/// <summary>
/// The console page of the published gateway in Debian's chromium, driven by Playwright (issue 17): signed in once
/// with <c>/?token=…</c>, it lists the plugins, shows a broken config edit with its file:line:col, says "not loaded"
/// for a plugin route that is absent, and keeps a screenshot under the test's output folder (artifacts/).
/// </summary>
public sealed class ConsolePageTests
{
    private const string Token = "page-test-token-0123456789abcdef";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>Debian's chromium; Playwright never downloads a browser of its own here.</summary>
    private const string Chromium = "/usr/bin/chromium";

    private static readonly string[] ChromiumArgs =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run",
    ];

    [Fact]
    public async Task Page_SignedInWithToken_ListsPluginsShowsConfigErrorAndAbsentPanels()
    {
        string folder = Path.Combine(Path.GetTempPath(), "gateway-e2e", "page-" + Guid.NewGuid().ToString("N")[..12]);
        string tokenFile = await AdminToken.WriteAsync(folder, Token);
        int adminPort = EchoClient.FreePort();
        string yaml = Config(adminPort, tokenFile, EchoClient.FreePort(), EchoClient.FreePort());
        await using GatewayProcess gateway = await GatewayProcess.StartAsync(yaml);

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

        string artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(artifacts);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(artifacts, "console-page.png"), FullPage = true });

        // A phone: the same page at 390 px wide stays usable (no horizontal scrolling of the whole page).
        await page.SetViewportSizeAsync(390, 844);
        Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth + 1"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(artifacts, "console-page-phone.png"), FullPage = true });
        Directory.Delete(folder, recursive: true);
    }

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
            http-proxy:
              listen: [127.0.0.1:{proxyPort}]
            """;
    }
}
