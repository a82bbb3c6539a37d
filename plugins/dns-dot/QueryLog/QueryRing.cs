using System.Buffers;
using System.Text;
using System.Text.Json;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.QueryLog;

/// <summary>
/// The last queries in memory (the admin API's <c>querylog</c>), whether or not a log file is configured: a ring
/// of <see cref="Capacity"/> copies of the queued events, filled on the writer thread and read under a lock.
/// Entries are turned into JSON only when asked for, by the same code as the log file's lines.
/// </summary>
internal sealed class QueryRing : IQueryEventSink
{
    /// <summary>Queries kept (about 5 MB at typical sizes).</summary>
    public const int Capacity = 10_000;

    // The ring keeps what the API shows: the question (a name is at most 255 bytes) and the first answer records.
    // Whole messages would let any client pin up to 64 KiB per entry (640 MiB for the ring) by asking for big
    // answers over TCP; cut like this an entry holds at most 1 KiB (10 MiB for the ring).
    private const int MaxQueryBytes = 288;
    private const int MaxAnswerBytes = 736;

    private readonly QueryEvent?[] _entries;
    private readonly Lock _lock = new();
    private int _next;
    private int _count;

    public QueryRing(int capacity = Capacity) => _entries = new QueryEvent?[capacity];

    /// <summary>Anonymise client addresses (<c>queryLog.anonymize</c>).</summary>
    public bool Anonymize { get; set; }

    /// <summary>Entries held.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <inheritdoc/>
    public void OnEvent(QueryEvent queryEvent)
    {
        if (queryEvent.IsUpstream)
        {
            return;
        }

        lock (_lock)
        {
            QueryEvent slot = _entries[_next] ??= new QueryEvent();
            slot.CopyFrom(queryEvent, MaxQueryBytes, MaxAnswerBytes);
            _next = (_next + 1) % _entries.Length;
            _count = Math.Min(_count + 1, _entries.Length);
        }
    }

    /// <inheritdoc/>
    public void OnBatchEnd()
    {
    }

    /// <summary>
    /// Writes <c>{"entries":[…]}</c>, newest first: at most <paramref name="limit"/> entries whose name contains
    /// <paramref name="name"/> (case-insensitive), whose client is <paramref name="client"/> (an address or a
    /// network), and whose rcode is <paramref name="rcode"/> (a name, or "blocked" for blocked queries).
    /// </summary>
    public byte[] Query(string? name, IpPrefix? client, string? rcode, int limit)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("entries"u8);
            byte[]? needle = string.IsNullOrEmpty(name) ? null : Encoding.ASCII.GetBytes(name.Trim().TrimEnd('.').ToLowerInvariant());
            bool blockedOnly = string.Equals(rcode, "blocked", StringComparison.OrdinalIgnoreCase);
            var line = new ArrayBufferWriter<byte>(1024);
            lock (_lock)
            {
                int written = 0;
                for (int i = 0; i < _count && written < limit; i++)
                {
                    QueryEvent entry = _entries[((_next - 1 - i) % _entries.Length + _entries.Length) % _entries.Length]!;
                    if (client is { } prefix)
                    {
                        NetAddress address = entry.Record.Client;
                        if (Anonymize)
                        {
                            address = new IpPrefix(address, address.IsV4 ? 24 : 48).Network;
                        }

                        if (!prefix.Contains(address))
                        {
                            continue;
                        }
                    }

                    if (blockedOnly ? !entry.Record.Blocked : rcode is not null && !string.Equals(MessageText.Rcode(entry.Answer), rcode, StringComparison.OrdinalIgnoreCase))
                    {
                        continue;
                    }

                    if (needle is not null && (!entry.TryGetQuestion(out ReadOnlySpan<byte> question, out _) || question.IndexOf(needle) < 0))
                    {
                        continue;
                    }

                    line.ResetWrittenCount();
                    QueryLogJson.Write(line, entry, Anonymize);
                    writer.WriteRawValue(line.WrittenSpan, skipInputValidation: true);
                    written++;
                }
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
