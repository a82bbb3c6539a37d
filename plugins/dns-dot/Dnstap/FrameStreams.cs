using System.Buffers.Binary;

namespace Gateway.Plugins.DnsDot.Dnstap;

/// <summary>
/// The Frame Streams framing dnstap travels in (fstrm, bidirectional mode as on Unix and TCP sockets): a data
/// frame is a 32-bit big-endian length and the payload; a control frame is an escape (length 0), its own length,
/// a control type, and CONTENT_TYPE fields. The writer sends READY, waits for the reader's ACCEPT, sends START,
/// data frames, and at the end STOP, answered by FINISH.
/// </summary>
internal static class FrameStreams
{
    /// <summary>The content type of dnstap payloads.</summary>
    public const string DnstapContentType = "protobuf:dnstap.Dnstap";

    public const uint ControlAccept = 0x01;
    public const uint ControlStart = 0x02;
    public const uint ControlStop = 0x03;
    public const uint ControlReady = 0x04;
    public const uint ControlFinish = 0x05;

    /// <summary>The control field that carries a content type.</summary>
    public const uint FieldContentType = 0x01;

    /// <summary>Largest control frame we accept from a reader (fstrm's own limit is 512).</summary>
    public const int MaxControlLength = 512;

    /// <summary>A control frame of <paramref name="type"/>, with a content type field when one is given.</summary>
    public static byte[] Control(uint type, string? contentType)
    {
        int fieldLength = contentType is null ? 0 : 8 + contentType.Length;
        var frame = new byte[12 + fieldLength];
        BinaryPrimitives.WriteUInt32BigEndian(frame, 0);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), (uint)(4 + fieldLength));
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), type);
        if (contentType is not null)
        {
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12), FieldContentType);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(16), (uint)contentType.Length);
            System.Text.Encoding.ASCII.GetBytes(contentType, frame.AsSpan(20));
        }

        return frame;
    }

    /// <summary>Reads one control frame from <paramref name="stream"/>; returns its type. Throws <see cref="InvalidDataException"/> for a data frame or a malformed one.</summary>
    public static async Task<uint> ReadControlAsync(Stream stream, CancellationToken cancellationToken)
    {
        byte[] header = new byte[8];
        await stream.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt32BigEndian(header) != 0)
        {
            throw new InvalidDataException("expected a control frame from the collector, got a data frame");
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
        if (length is < 4 or > MaxControlLength)
        {
            throw new InvalidDataException($"control frame of {length} bytes from the collector");
        }

        byte[] body = new byte[length];
        await stream.ReadExactlyAsync(body, cancellationToken).ConfigureAwait(false);
        return BinaryPrimitives.ReadUInt32BigEndian(body);
    }
}
