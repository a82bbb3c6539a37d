using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace Gateway.EndToEnd.Admin;

/// <summary>
/// A small OTLP/HTTP metrics receiver (POST /v1/metrics, application/x-protobuf) for tests: it decodes each
/// ExportMetricsServiceRequest with a minimal protobuf reader (opentelemetry-proto metrics.proto field numbers)
/// and keeps the latest value of every Sum and Gauge data point, by metric name and attributes.
/// </summary>
public sealed class OtlpReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentDictionary<string, double> _latest = new(StringComparer.Ordinal);
    private readonly Task _loop;
    private int _requests;

    public OtlpReceiver(int port)
    {
        Port = port;
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    /// <summary>Export requests received so far.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Resource attribute "service.name" of the last request.</summary>
    public string? ServiceName { get; private set; }

    /// <summary>The latest value of each point, keyed "name{k=v,...}" with attributes sorted.</summary>
    public IReadOnlyDictionary<string, double> Latest => _latest;

    /// <summary>The sum of the latest values of every point of metric <paramref name="name"/> whose key contains all of <paramref name="attributes"/>.</summary>
    public double Sum(string name, params string[] attributes) =>
        _latest.Where(p => p.Key.StartsWith(name + "{", StringComparison.Ordinal) && attributes.All(a => p.Key.Contains(a, StringComparison.Ordinal))).Sum(p => p.Value);

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The listener was closed under a pending accept.
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            bool ok = context.Request.HttpMethod == "POST" && context.Request.Url!.AbsolutePath == "/v1/metrics" &&
                context.Request.ContentType == "application/x-protobuf";
            if (ok)
            {
                ReadRequest(body.ToArray());
                Interlocked.Increment(ref _requests);
            }

            // An empty ExportMetricsServiceResponse is a zero-length protobuf message.
            context.Response.StatusCode = ok ? 200 : 400;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    private void ReadRequest(ReadOnlySpan<byte> request)
    {
        // ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
        foreach ((int field, ReadOnlyMemory<byte> resourceMetrics) in Fields(request.ToArray()))
        {
            if (field != 1)
            {
                continue;
            }

            // ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }
            foreach ((int rf, ReadOnlyMemory<byte> value) in Fields(resourceMetrics))
            {
                if (rf == 1)
                {
                    // Resource { repeated KeyValue attributes = 1; }
                    foreach ((int af, ReadOnlyMemory<byte> kv) in Fields(value))
                    {
                        if (af == 1 && KeyValue(kv) is ("service.name", var service))
                        {
                            ServiceName = service;
                        }
                    }
                }
                else if (rf == 2)
                {
                    // ScopeMetrics { InstrumentationScope scope = 1; repeated Metric metrics = 2; }
                    foreach ((int sf, ReadOnlyMemory<byte> metric) in Fields(value))
                    {
                        if (sf == 2)
                        {
                            ReadMetric(metric);
                        }
                    }
                }
            }
        }
    }

    private void ReadMetric(ReadOnlyMemory<byte> metric)
    {
        // Metric { string name = 1; Gauge gauge = 5; Sum sum = 7; } ; Gauge/Sum { repeated NumberDataPoint data_points = 1; }
        string? name = null;
        var pointLists = new List<ReadOnlyMemory<byte>>();
        foreach ((int field, ReadOnlyMemory<byte> value) in Fields(metric))
        {
            if (field == 1)
            {
                name = Encoding.UTF8.GetString(value.Span);
            }
            else if (field is 5 or 7)
            {
                pointLists.Add(value);
            }
        }

        foreach (ReadOnlyMemory<byte> list in pointLists)
        {
            foreach ((int field, ReadOnlyMemory<byte> point) in Fields(list))
            {
                if (field == 1 && name is not null)
                {
                    ReadPoint(name, point);
                }
            }
        }
    }

    private void ReadPoint(string name, ReadOnlyMemory<byte> point)
    {
        // NumberDataPoint { fixed64 time_unix_nano = 3; double as_double = 4; sfixed64 as_int = 6; repeated KeyValue attributes = 7; }
        double value = 0;
        var attributes = new List<string>();
        foreach ((int field, ReadOnlyMemory<byte> raw) in Fields(point))
        {
            switch (field)
            {
                case 4:
                    value = BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64LittleEndian(raw.Span));
                    break;
                case 6:
                    value = BinaryPrimitives.ReadInt64LittleEndian(raw.Span);
                    break;
                case 7 when KeyValue(raw) is ({ } key, { } text):
                    attributes.Add(key + "=" + text);
                    break;
            }
        }

        attributes.Sort(StringComparer.Ordinal);
        _latest[name + "{" + string.Join(",", attributes) + "}"] = value;
    }

    /// <summary>KeyValue { string key = 1; AnyValue value = 2; } with AnyValue { string_value = 1; int_value = 3; ... }.</summary>
    private static (string? Key, string? Value) KeyValue(ReadOnlyMemory<byte> kv)
    {
        string? key = null;
        string? text = null;
        foreach ((int field, ReadOnlyMemory<byte> value) in Fields(kv))
        {
            if (field == 1)
            {
                key = Encoding.UTF8.GetString(value.Span);
            }
            else if (field == 2)
            {
                foreach ((int vf, ReadOnlyMemory<byte> any) in Fields(value))
                {
                    text = vf switch
                    {
                        1 => Encoding.UTF8.GetString(any.Span),
                        3 => ReadVarint(any.Span, out _).ToString(System.Globalization.CultureInfo.InvariantCulture),
                        _ => text,
                    };
                }
            }
        }

        return (key, text);
    }

    /// <summary>The fields of a protobuf message: length-delimited ones as their bytes, fixed64 as 8 bytes, varints re-encoded as 8 little-endian bytes.</summary>
    private static List<(int Field, ReadOnlyMemory<byte> Value)> Fields(ReadOnlyMemory<byte> message)
    {
        var fields = new List<(int, ReadOnlyMemory<byte>)>();
        int offset = 0;
        ReadOnlySpan<byte> span = message.Span;
        while (offset < span.Length)
        {
            ulong tag = ReadVarint(span[offset..], out int used);
            offset += used;
            int field = (int)(tag >> 3);
            switch ((int)(tag & 7))
            {
                case 0:
                    ulong varint = ReadVarint(span[offset..], out used);
                    offset += used;
                    byte[] bytes = new byte[8];
                    BinaryPrimitives.WriteUInt64LittleEndian(bytes, varint);
                    fields.Add((field, bytes));
                    break;
                case 1:
                    fields.Add((field, message.Slice(offset, 8)));
                    offset += 8;
                    break;
                case 2:
                    int length = (int)ReadVarint(span[offset..], out used);
                    offset += used;
                    fields.Add((field, message.Slice(offset, length)));
                    offset += length;
                    break;
                case 5:
                    fields.Add((field, message.Slice(offset, 4)));
                    offset += 4;
                    break;
                default:
                    throw new InvalidDataException($"protobuf wire type {tag & 7} at offset {offset}");
            }
        }

        return fields;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, out int used)
    {
        ulong value = 0;
        for (used = 0; used < 10; used++)
        {
            byte b = data[used];
            value |= (ulong)(b & 0x7F) << (7 * used);
            if ((b & 0x80) == 0)
            {
                used++;
                return value;
            }
        }

        throw new InvalidDataException("varint longer than 10 bytes");
    }
}
