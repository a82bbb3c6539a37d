using System.Net;
using System.Runtime.CompilerServices;

namespace Gateway.Plugins.DnsDot.QueryLog;

/// <summary>
/// One queued event: an answered client query, or an upstream exchange (for dnstap). Slots are preallocated and
/// reused; the two messages live in the queue's arena for the batch, or in the event's own buffer (a batch whose
/// arena is full, the in-memory log's copies), so queueing allocates nothing once warm.
/// </summary>
internal sealed class QueryEvent
{
    // Allocated on first use and grown in steps of 512 bytes: an idle gateway keeps no message buffers.
    private byte[] _buffer = [];

    // Where the two messages are: _buffer, or the event queue's shared arena for this batch (from _offset).
    private byte[] _messages = [];
    private int _offset;

    // The question in presentation form, made by the first sink that asks (statistics, then the log line reuse it:
    // issue 16's profile had the name expanded twice per query). Length -1: not made yet; -2: unreadable.
    private byte[] _question = [];
    private int _questionLength = -1;
    private ushort _questionType;

    /// <summary>True for an upstream exchange (<see cref="Upstream"/>, <see cref="UpstreamEndpoint"/>); false for a client query.</summary>
    public bool IsUpstream;

    /// <summary>The client query's facts (client events).</summary>
    public QueryRecord Record;

    /// <summary>The upstream's name (upstream events).</summary>
    public string? Upstream;

    /// <summary>The upstream's address (upstream events).</summary>
    public IPEndPoint? UpstreamEndpoint;

    /// <summary>When the upstream query was sent and answered (Stopwatch ticks; upstream events).</summary>
    public long SentAt;

    /// <summary>See <see cref="SentAt"/>.</summary>
    public long ReceivedAt;

    /// <summary>Bytes of the query message.</summary>
    public int QueryLength;

    /// <summary>Bytes of the answer message.</summary>
    public int AnswerLength;

    /// <summary>The query message.</summary>
    public ReadOnlySpan<byte> Query => _messages.AsSpan(_offset, QueryLength);

    /// <summary>The answer message.</summary>
    public ReadOnlySpan<byte> Answer => _messages.AsSpan(_offset + QueryLength, AnswerLength);

    /// <summary>Copies both messages into the event's own buffer (growing it only for unusually large messages).</summary>
    public void SetMessages(ReadOnlySpan<byte> query, ReadOnlySpan<byte> answer)
    {
        int total = query.Length + answer.Length;
        if (total > _buffer.Length)
        {
            _buffer = new byte[Math.Max((total + 511) & ~511, _buffer.Length * 2)];
        }

        query.CopyTo(_buffer);
        answer.CopyTo(_buffer.AsSpan(query.Length));
        _messages = _buffer;
        _offset = 0;
        QueryLength = query.Length;
        AnswerLength = answer.Length;
        _questionLength = -1;
    }

    /// <summary>
    /// Copies both messages into <paramref name="arena"/> at <paramref name="offset"/> (room for both is the caller's
    /// business): the event queue's buffer shared by one batch, valid until the queue refills that batch.
    /// </summary>
    public void SetMessages(ReadOnlySpan<byte> query, ReadOnlySpan<byte> answer, byte[] arena, int offset)
    {
        query.CopyTo(arena.AsSpan(offset));
        answer.CopyTo(arena.AsSpan(offset + query.Length));
        _messages = arena;
        _offset = offset;
        QueryLength = query.Length;
        AnswerLength = answer.Length;
        _questionLength = -1;
    }

    /// <summary>
    /// The query's question name (lower case, no trailing dot, "." for the root; <see cref="MessageText.TryQuestion"/>)
    /// and type, expanded once per event however many sinks ask; false when the question is unreadable.
    /// </summary>
    [SkipLocalsInit] // the 1 KiB text buffer is written before it is read; zeroing it cost every event
    public bool TryGetQuestion(out ReadOnlySpan<byte> name, out ushort type)
    {
        if (_questionLength == -1)
        {
            Span<byte> text = stackalloc byte[Wire.DnsConstants.MaxPresentationLength];
            if (MessageText.TryQuestion(Query, text, out int length, out _questionType))
            {
                if (_question.Length < length)
                {
                    // Rounded up so a slot's buffer settles at the size of the names it sees (most fit in 64 bytes).
                    _question = new byte[(length + 63) & ~63];
                }

                text[..length].CopyTo(_question);
                _questionLength = length;
            }
            else
            {
                _questionLength = -2;
            }
        }

        type = _questionType;
        name = _questionLength >= 0 ? _question.AsSpan(0, _questionLength) : default;
        return _questionLength >= 0;
    }

    /// <summary>
    /// Copies another event into this one (the in-memory log keeps copies), each message cut to its first
    /// <paramref name="maxQuery"/> and <paramref name="maxAnswer"/> bytes: what a slot holds for good stays small
    /// whatever the clients ask for (readers of a cut message see the header, the question and the records that fit).
    /// </summary>
    public void CopyFrom(QueryEvent other, int maxQuery = int.MaxValue, int maxAnswer = int.MaxValue)
    {
        IsUpstream = other.IsUpstream;
        Record = other.Record;
        Upstream = other.Upstream;
        UpstreamEndpoint = other.UpstreamEndpoint;
        SentAt = other.SentAt;
        ReceivedAt = other.ReceivedAt;
        ReadOnlySpan<byte> query = other.Query;
        ReadOnlySpan<byte> answer = other.Answer;
        SetMessages(query[..Math.Min(query.Length, maxQuery)], answer[..Math.Min(answer.Length, maxAnswer)]);
    }

    /// <summary>
    /// Lets go of the message buffer when it grew past <paramref name="keepBytes"/> (an unusually large message):
    /// otherwise every slot a burst of 64 KiB messages passed through would keep 64 KiB for good.
    /// </summary>
    public void Shrink(int keepBytes)
    {
        if (_buffer.Length > keepBytes)
        {
            _buffer = [];
            _messages = [];
            _offset = 0;
            QueryLength = 0;
            AnswerLength = 0;
            _questionLength = -1;
        }
    }
}
