using System.Diagnostics.Metrics;

namespace Gateway.Tests.DnsDot.Server;

/// <summary>Sums one counter of one meter while alive, and remembers the tags of its last measurement.</summary>
internal sealed class MeterListenerCount : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Lock _lock = new();
    private KeyValuePair<string, object?>[] _lastTags = [];
    private long _total;

    public MeterListenerCount(Meter meter, string instrument)
    {
        _listener.InstrumentPublished = (i, l) =>
        {
            if (ReferenceEquals(i.Meter, meter) && i.Name == instrument)
            {
                l.EnableMeasurementEvents(i);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            lock (_lock)
            {
                _total += value;
                _lastTags = tags.ToArray();
            }
        });
        _listener.Start();
    }

    public long Total
    {
        get
        {
            lock (_lock)
            {
                return _total;
            }
        }
    }

    public string? LastTag(string key)
    {
        lock (_lock)
        {
            return _lastTags.FirstOrDefault(t => t.Key == key).Value as string;
        }
    }

    public void Dispose() => _listener.Dispose();
}
