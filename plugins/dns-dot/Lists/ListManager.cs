using System.Diagnostics.Metrics;
using System.Net.Sockets;
using Gateway.Plugins.DnsDot.Configuration;
using Microsoft.Extensions.Logging;

namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>
/// The plugin's <c>lists:</c>, kept across configuration reloads: an entry whose definition is unchanged keeps
/// its matcher, copy and schedule; a changed or new one starts loading in the background; a removed one stops.
/// Publishes each list's entry count, age, hits and last error as metrics (<c>dns.list.*{list}</c>).
/// </summary>
internal sealed class ListManager : IListCatalog, IDisposable
{
    private readonly ListDownloader _downloader;
    private readonly ILogger _logger;
    private readonly Counter<long>? _hits;
    private SubscribedList[] _lists = [];

    public ListManager(Action<Socket> protectSocket, Meter? meter, ILogger logger)
    {
        _downloader = new ListDownloader(protectSocket);
        _logger = logger;
        if (meter is not null)
        {
            _hits = meter.CreateCounter<long>("dns.list.hits", "{query}", "Queries a list decided (blocked, or allowed past a block), by list");
            meter.CreateObservableGauge("dns.list.entries", () => Measure(static list => list.Entries), "{entry}", "Entries of the list copy in use, by list");
            meter.CreateObservableGauge("dns.list.skipped", () => Measure(static list => list.Skipped), "{line}", "Lines of the list copy in use that were not understood and skipped, by list");
            meter.CreateObservableGauge("dns.list.age", MeasureAge, "s", "Age of the list copy in use (since its download or the file's last change), by list");
            meter.CreateObservableGauge("dns.list.last_error", MeasureErrors, "{error}", "1 while the last refresh of a list failed, with the reason in the error tag");
        }
    }

    /// <summary>The lists in configuration order.</summary>
    public IReadOnlyList<SubscribedList> Lists => Volatile.Read(ref _lists);

    /// <summary>The list called <paramref name="name"/>, or null.</summary>
    public SubscribedList? Find(string name)
    {
        foreach (SubscribedList list in Volatile.Read(ref _lists))
        {
            if (string.Equals(list.Name, name, StringComparison.Ordinal))
            {
                return list;
            }
        }

        return null;
    }

    /// <summary>Counts a query the list decided (API and metrics).</summary>
    public void CountHit(SubscribedList list)
    {
        list.CountHit();
        _hits?.Add(1, list.HitTag);
    }

    /// <summary>Makes the lists match <paramref name="options"/>; returns them in order. Never blocks on a download.</summary>
    public IReadOnlyList<SubscribedList> Apply(IReadOnlyList<ListOptions> options, string configDirectory, string stateDirectory)
    {
        SubscribedList[] current = Volatile.Read(ref _lists);
        var next = new SubscribedList[options.Count];
        var kept = new HashSet<SubscribedList>();
        for (int i = 0; i < options.Count; i++)
        {
            ListDefinition definition = ListDefinition.From(options[i], configDirectory);
            SubscribedList? same = Array.Find(current, list => list.Definition == definition);
            if (same is not null && kept.Add(same))
            {
                next[i] = same;
                continue;
            }

            var list = new SubscribedList(definition, stateDirectory, _downloader, _logger);
            list.Start();
            next[i] = list;
        }

        Volatile.Write(ref _lists, next);
        foreach (SubscribedList list in current)
        {
            if (!kept.Contains(list))
            {
                list.Dispose();
            }
        }

        return next;
    }

    public void Dispose()
    {
        foreach (SubscribedList list in Interlocked.Exchange(ref _lists, []))
        {
            list.Dispose();
        }

        _downloader.Dispose();
    }

    private IEnumerable<Measurement<long>> Measure(Func<SubscribedList, long> value)
    {
        foreach (SubscribedList list in Volatile.Read(ref _lists))
        {
            yield return new Measurement<long>(value(list), list.HitTag);
        }
    }

    private IEnumerable<Measurement<double>> MeasureAge()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        foreach (SubscribedList list in Volatile.Read(ref _lists))
        {
            if (list.Updated is { } updated)
            {
                yield return new Measurement<double>(Math.Max(0, (now - updated).TotalSeconds), list.HitTag);
            }
        }
    }

    private IEnumerable<Measurement<int>> MeasureErrors()
    {
        foreach (SubscribedList list in Volatile.Read(ref _lists))
        {
            if (list.LastError is { } error)
            {
                yield return new Measurement<int>(1, list.HitTag, new KeyValuePair<string, object?>("error", error));
            }
        }
    }
}
