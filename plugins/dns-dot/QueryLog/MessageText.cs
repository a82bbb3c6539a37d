using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using Gateway.Plugins.DnsDot.Rules;
using Gateway.Plugins.DnsDot.Wire;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.QueryLog;

/// <summary>
/// Short text for people: the question of a message, its rcode, and each answer record as "A 10.0.0.1",
/// "CNAME www.example.test", "MX 10 mail.example.test", "TXT \"v=spf1 -all\"". Runs on the query log's writer
/// thread, never on the query path. Malformed messages give what could be read, never an exception.
/// </summary>
internal static class MessageText
{
    private static readonly string[] RcodeNames = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15"];

    private static readonly Dictionary<ushort, string> TypeNames = Enum.GetValues<DnsType>().ToDictionary(type => (ushort)type, type => type.ToString());

    // The same names as ASCII bytes, for the log line and the answer texts (no string per query).
    private static readonly byte[][] RcodeBytes = [.. RcodeNames.Select(Encoding.ASCII.GetBytes)];
    private static readonly Dictionary<ushort, byte[]> TypeBytes = TypeNames.ToDictionary(pair => pair.Key, pair => Encoding.ASCII.GetBytes(pair.Value));

    /// <summary>The longest text of <see cref="TypeText"/> ("TYPE65535").</summary>
    public const int MaxTypeBytes = 16;

    /// <summary>The longest text of <see cref="AddressText"/> (an IPv6 address with a scope).</summary>
    public const int MaxAddressBytes = 64;

    /// <summary>The rcode's name ("NXDOMAIN"); header rcode only.</summary>
    public static string Rcode(ReadOnlySpan<byte> message) => message.Length >= 4 ? RcodeNames[message[3] & 0xF] : "FORMERR";

    /// <summary><see cref="Rcode"/> as ASCII bytes.</summary>
    public static ReadOnlySpan<byte> RcodeText(ReadOnlySpan<byte> message) => message.Length >= 4 ? RcodeBytes[message[3] & 0xF] : RcodeBytes[1];

    /// <summary>The type's mnemonic ("AAAA"), or "TYPE65280".</summary>
    public static string Type(ushort type) => TypeNames.TryGetValue(type, out string? name) ? name : string.Create(CultureInfo.InvariantCulture, $"TYPE{type}");

    /// <summary><see cref="Type"/> as ASCII bytes written into <paramref name="destination"/> (<see cref="MaxTypeBytes"/> long); returns the length.</summary>
    public static int TypeText(ushort type, Span<byte> destination)
    {
        if (TypeBytes.TryGetValue(type, out byte[]? name))
        {
            name.CopyTo(destination);
            return name.Length;
        }

        "TYPE"u8.CopyTo(destination);
        type.TryFormat(destination[4..], out int written, default, CultureInfo.InvariantCulture);
        return 4 + written;
    }

    /// <summary>Writes <paramref name="address"/> as text (ASCII) into <paramref name="destination"/> (<see cref="MaxAddressBytes"/> long); returns the length.</summary>
    public static int AddressText(NetAddress address, Span<byte> destination)
    {
        address.TryFormat(destination, out int length, default, null);
        return length;
    }

    /// <summary>Writes the question name (lower case, no trailing dot, "." for the root) into <paramref name="destination"/>; false when unreadable.</summary>
    [SkipLocalsInit] // the name buffer is written before it is read
    public static bool TryQuestion(ReadOnlySpan<byte> message, Span<byte> destination, out int nameLength, out ushort type)
    {
        nameLength = 0;
        type = 0;
        if (message.Length < DnsConstants.HeaderSize + 5 || BinaryPrimitives.ReadUInt16BigEndian(message[4..]) == 0)
        {
            return false;
        }

        Span<byte> wire = stackalloc byte[DnsConstants.MaxNameLength + 1];
        if (!DnsName.TryExpand(message, DnsConstants.HeaderSize, wire, out int wireLength, out int end) || end + 4 > message.Length)
        {
            return false;
        }

        nameLength = DnsName.ToPresentation(wire[..wireLength], destination);
        if (nameLength < 0)
        {
            return false;
        }

        if (nameLength == 0)
        {
            destination[0] = (byte)'.';
            nameLength = 1;
        }

        type = BinaryPrimitives.ReadUInt16BigEndian(message[end..]);
        return true;
    }

    /// <summary>The question name as a string ("" when unreadable).</summary>
    public static string QuestionName(ReadOnlySpan<byte> message, out ushort type)
    {
        Span<byte> name = stackalloc byte[DnsConstants.MaxPresentationLength];
        return TryQuestion(message, name, out int length, out type) ? Encoding.ASCII.GetString(name[..length]) : "";
    }

    /// <summary>The answer section as short texts.</summary>
    public static List<string> Answers(ReadOnlySpan<byte> message)
    {
        var answers = new List<string>();
        var reader = new AnswerReader(message);
        Span<byte> text = stackalloc byte[AnswerReader.MaxText];
        while (reader.TryNext(text, out int length))
        {
            answers.Add(Encoding.UTF8.GetString(text[..length]));
        }

        return answers;
    }


    /// <summary>
    /// A client address as the log shows it, anonymised to its /24 (IPv4) or /48 (IPv6) when asked, written into
    /// <paramref name="destination"/> (<see cref="MaxAddressBytes"/> long) without making a string; returns the length.
    /// </summary>
    public static int ClientText(NetAddress client, bool anonymize, Span<byte> destination) =>
        AddressText(anonymize ? new IpPrefix(client, client.IsV4 ? 24 : 48).Network : client, destination);

    /// <summary>Reads the answer section record by record.</summary>
    internal ref struct AnswerReader
    {
        /// <summary>Largest text of one record (longer TXT data is cut).</summary>
        public const int MaxText = 1024;

        private readonly ReadOnlySpan<byte> _message;
        private int _position;
        private int _remaining;

        public AnswerReader(ReadOnlySpan<byte> message)
        {
            _message = message;
            _remaining = 0;
            _position = -1;
            if (message.Length < DnsConstants.HeaderSize)
            {
                return;
            }

            int questions = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
            int position = DnsConstants.HeaderSize;
            for (int i = 0; i < questions; i++)
            {
                if (!DnsName.TrySkip(message, position, out int end) || end + 4 > message.Length)
                {
                    return;
                }

                position = end + 4;
            }

            _position = position;
            _remaining = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        }

        /// <summary>Formats the next answer record into <paramref name="destination"/> (<see cref="MaxText"/> bytes).</summary>
        public bool TryNext(scoped Span<byte> destination, out int length)
        {
            length = 0;
            if (_remaining <= 0 || _position < 0)
            {
                return false;
            }

            _remaining--;
            if (!DnsName.TrySkip(_message, _position, out int end) || end + 10 > _message.Length)
            {
                _remaining = 0;
                return false;
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(_message[end..]);
            int rdLength = BinaryPrimitives.ReadUInt16BigEndian(_message[(end + 8)..]);
            int rdata = end + 10;
            if (rdata + rdLength > _message.Length)
            {
                _remaining = 0;
                return false;
            }

            _position = rdata + rdLength;
            var text = new TextBuilder(destination);
            Span<byte> scratch = stackalloc byte[MaxAddressBytes];
            text.Append(scratch[..TypeText(type, scratch)]);
            text.Append(' ');
            ReadOnlySpan<byte> data = _message.Slice(rdata, rdLength);
            switch (type)
            {
                case DnsConstants.TypeA when rdLength == 4:
                case DnsConstants.TypeAaaa when rdLength == 16:
                    text.Append(scratch[..AddressText(NetAddress.FromBytes(data), scratch)]);
                    break;
                case (ushort)DnsType.CNAME or (ushort)DnsType.NS or (ushort)DnsType.PTR:
                    text.AppendName(_message, rdata);
                    break;
                case (ushort)DnsType.MX when rdLength > 2:
                    text.Append(BinaryPrimitives.ReadUInt16BigEndian(data));
                    text.Append(' ');
                    text.AppendName(_message, rdata + 2);
                    break;
                case (ushort)DnsType.SRV when rdLength > 6:
                    text.Append(BinaryPrimitives.ReadUInt16BigEndian(data));
                    text.Append(' ');
                    text.Append(BinaryPrimitives.ReadUInt16BigEndian(data[2..]));
                    text.Append(' ');
                    text.Append(BinaryPrimitives.ReadUInt16BigEndian(data[4..]));
                    text.Append(' ');
                    text.AppendName(_message, rdata + 6);
                    break;
                case (ushort)DnsType.TXT:
                    for (int at = 0; at < data.Length;)
                    {
                        int stringLength = data[at];
                        ReadOnlySpan<byte> chunk = data.Slice(at + 1, Math.Min(stringLength, data.Length - at - 1));
                        if (at > 0)
                        {
                            text.Append(' ');
                        }

                        text.Append('"');
                        text.AppendPrintable(chunk);
                        text.Append('"');
                        at += 1 + stringLength;
                    }

                    break;
                default:
                    text.Append('(');
                    text.Append(rdLength);
                    text.Append(" bytes)"u8);
                    break;
            }

            length = text.Length;
            return true;
        }
    }

    private ref struct TextBuilder(Span<byte> destination)
    {
        private readonly Span<byte> _destination = destination;

        public int Length { get; private set; }

        public void Append(char c)
        {
            if (Length < _destination.Length)
            {
                _destination[Length++] = (byte)c;
            }
        }

        public void Append(string text)
        {
            foreach (char c in text)
            {
                Append(c);
            }
        }

        public void Append(scoped ReadOnlySpan<byte> ascii)
        {
            int length = Math.Min(ascii.Length, _destination.Length - Length);
            ascii[..length].CopyTo(_destination[Length..]);
            Length += length;
        }

        public void Append(int value)
        {
            Span<char> digits = stackalloc char[11];
            value.TryFormat(digits, out int written, provider: CultureInfo.InvariantCulture);
            foreach (char c in digits[..written])
            {
                Append(c);
            }
        }

        public void AppendName(ReadOnlySpan<byte> message, int offset)
        {
            Span<byte> wire = stackalloc byte[DnsConstants.MaxNameLength + 1];
            Span<byte> name = stackalloc byte[DnsConstants.MaxPresentationLength];
            if (!DnsName.TryExpand(message, offset, wire, out int wireLength, out _))
            {
                Append('?');
                return;
            }

            int length = DnsName.ToPresentation(wire[..wireLength], name);
            if (length <= 0)
            {
                Append('.');
                return;
            }

            Append(name[..length]);
        }

        // RFC 1035 §5.1: printable ASCII as is (quotes and backslashes escaped), anything else as \DDD.
        public void AppendPrintable(ReadOnlySpan<byte> bytes)
        {
            foreach (byte b in bytes)
            {
                if (b is (byte)'"' or (byte)'\\')
                {
                    Append('\\');
                    Append((char)b);
                }
                else if (b is >= 0x20 and < 0x7F)
                {
                    Append((char)b);
                }
                else
                {
                    Append('\\');
                    Append((char)('0' + (b / 100)));
                    Append((char)('0' + (b / 10 % 10)));
                    Append((char)('0' + (b % 10)));
                }
            }
        }
    }
}
