using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Gateway.Sdk.Networking;

namespace Gateway.Plugins.DnsDot.Records;

/// <summary>
/// Parses one <c>records:</c> entry in zone-file presentation form as unbound's <c>local-data</c> takes it
/// (RFC 1035 §5.1): <c>owner [ttl] [class] type rdata…</c>, TTL and class in either order, class IN only.
/// Names are absolute whether or not they end with a dot (unbound's reading: there is no $ORIGIN here).
/// </summary>
internal static class RecordParser
{
    /// <summary>The TTL of a record that gives none (unbound's local-data default).</summary>
    public const uint DefaultTtl = 3600;

    /// <summary>Parses <paramref name="text"/>; on failure returns null with the problem and its 1-based column.</summary>
    public static LocalRecord? TryParse(string text, out string? problem, out int column)
    {
        problem = null;
        column = 1;
        List<Token> tokens = Tokenize(text, out problem, out column);
        if (problem is not null)
        {
            return null;
        }

        if (tokens.Count < 3)
        {
            return Fail("expected 'owner [ttl] [class] type data', for example \"nas.home.test 300 A 192.168.1.10\"", tokens.Count > 0 ? tokens[^1].Column : 1, out problem, out column);
        }

        string? owner = PresentationName.Normalize(tokens[0].Text, allowWildcard: true, out string? nameProblem);
        if (owner is null)
        {
            return Fail(nameProblem!, tokens[0].Column, out problem, out column);
        }

        int index = 1;
        uint ttl = DefaultTtl;
        bool sawTtl = false;
        bool sawClass = false;
        while (index < tokens.Count)
        {
            Token token = tokens[index];
            if (!sawTtl && token.Quoted is false && uint.TryParse(token.Text, NumberStyles.None, CultureInfo.InvariantCulture, out uint parsed))
            {
                if (parsed > int.MaxValue)
                {
                    return Fail($"TTL {token.Text} is above 2147483647 (RFC 2181 §8)", token.Column, out problem, out column);
                }

                ttl = parsed;
                sawTtl = true;
                index++;
            }
            else if (!sawClass && token.Text.ToUpperInvariant() is "IN" or "CH" or "HS" or "CS")
            {
                if (!token.Text.Equals("IN", StringComparison.OrdinalIgnoreCase))
                {
                    return Fail($"class {token.Text} is not supported: local records are class IN", token.Column, out problem, out column);
                }

                sawClass = true;
                index++;
            }
            else
            {
                break;
            }
        }

        if (index >= tokens.Count)
        {
            return Fail("the record type is missing (A, AAAA, CNAME, PTR, TXT, SRV or MX)", tokens[^1].Column, out problem, out column);
        }

        Token typeToken = tokens[index++];
        List<Token> data = tokens.GetRange(index, tokens.Count - index);
        bool wildcard = owner.StartsWith("*.", StringComparison.Ordinal);
        string key = wildcard ? owner[2..] : owner;
        int dataColumn = data.Count > 0 ? data[0].Column : typeToken.Column + typeToken.Text.Length;
        switch (typeToken.Text.ToUpperInvariant())
        {
            case "A":
            case "AAAA":
            {
                bool v4 = typeToken.Text.Length == 1;
                if (data.Count != 1 || !NetAddress.TryParse(data[0].Text, out NetAddress address) || address.IsV4 != v4)
                {
                    return Fail($"{typeToken.Text.ToUpperInvariant()} needs one {(v4 ? "IPv4" : "IPv6")} address", dataColumn, out problem, out column);
                }

                var rdata = new byte[address.ByteLength];
                address.WriteTo(rdata);
                return new LocalRecord(key, wildcard, v4 ? LocalRecord.TypeA : LocalRecord.TypeAaaa, ttl, rdata, null);
            }

            case "CNAME":
            case "PTR":
            {
                if (data.Count != 1)
                {
                    return Fail($"{typeToken.Text.ToUpperInvariant()} needs one target name", dataColumn, out problem, out column);
                }

                string? target = PresentationName.Normalize(data[0].Text, allowWildcard: false, out string? targetProblem);
                if (target is null)
                {
                    return Fail(targetProblem!, data[0].Column, out problem, out column);
                }

                bool cname = typeToken.Text.Length == 5;
                return new LocalRecord(key, wildcard, cname ? LocalRecord.TypeCname : LocalRecord.TypePtr, ttl, PresentationName.ToWire(target), cname ? target : null);
            }

            case "MX":
            {
                if (data.Count != 2 || !ushort.TryParse(data[0].Text, NumberStyles.None, CultureInfo.InvariantCulture, out ushort preference))
                {
                    return Fail("MX needs a preference (0-65535) and an exchange name: \"home.test MX 10 mail.home.test\"", dataColumn, out problem, out column);
                }

                string? exchange = PresentationName.Normalize(data[1].Text, allowWildcard: false, out string? exchangeProblem);
                if (exchange is null)
                {
                    return Fail(exchangeProblem!, data[1].Column, out problem, out column);
                }

                byte[] name = PresentationName.ToWire(exchange);
                var rdata = new byte[2 + name.Length];
                BinaryPrimitives.WriteUInt16BigEndian(rdata, preference);
                name.CopyTo(rdata, 2);
                return new LocalRecord(key, wildcard, LocalRecord.TypeMx, ttl, rdata, null);
            }

            case "SRV":
            {
                if (data.Count != 4)
                {
                    return Fail("SRV needs priority weight port target: \"_http._tcp.home.test SRV 0 5 80 nas.home.test\"", dataColumn, out problem, out column);
                }

                var numbers = new ushort[3];
                for (int i = 0; i < 3; i++)
                {
                    if (!ushort.TryParse(data[i].Text, NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i]))
                    {
                        return Fail($"SRV {(i == 0 ? "priority" : i == 1 ? "weight" : "port")} '{data[i].Text}' is not a number 0-65535", data[i].Column, out problem, out column);
                    }
                }

                string? target = data[3].Text == "." ? "" : PresentationName.Normalize(data[3].Text, allowWildcard: false, out string? targetProblem2);
                if (target is null)
                {
                    return Fail($"SRV target '{data[3].Text}' is not a host name", data[3].Column, out problem, out column);
                }

                byte[] name = target.Length == 0 ? [0] : PresentationName.ToWire(target);
                var rdata = new byte[6 + name.Length];
                BinaryPrimitives.WriteUInt16BigEndian(rdata, numbers[0]);
                BinaryPrimitives.WriteUInt16BigEndian(rdata.AsSpan(2), numbers[1]);
                BinaryPrimitives.WriteUInt16BigEndian(rdata.AsSpan(4), numbers[2]);
                name.CopyTo(rdata, 6);
                return new LocalRecord(key, wildcard, LocalRecord.TypeSrv, ttl, rdata, null);
            }

            case "TXT":
            {
                if (data.Count == 0)
                {
                    return Fail("TXT needs at least one string: 'home.test TXT \"v=spf1 -all\"'", dataColumn, out problem, out column);
                }

                var rdata = new List<byte>();
                foreach (Token token in data)
                {
                    byte[] bytes = Encoding.UTF8.GetBytes(token.Text);
                    if (bytes.Length > 255)
                    {
                        return Fail("a TXT string is longer than 255 bytes (RFC 1035 §3.3.14); split it into several quoted strings", token.Column, out problem, out column);
                    }

                    rdata.Add((byte)bytes.Length);
                    rdata.AddRange(bytes);
                }

                if (rdata.Count > ushort.MaxValue)
                {
                    return Fail("the TXT record is longer than 65535 bytes", dataColumn, out problem, out column);
                }

                return new LocalRecord(key, wildcard, LocalRecord.TypeTxt, ttl, [.. rdata], null);
            }

            default:
                return Fail($"record type '{typeToken.Text}' is not supported in records: (A, AAAA, CNAME, PTR, TXT, SRV, MX)", typeToken.Column, out problem, out column);
        }
    }

    private static LocalRecord? Fail(string message, int at, out string? problem, out int column)
    {
        problem = message;
        column = at;
        return null;
    }

    // Whitespace-separated tokens; "quoted strings" with \" and \\ and \DDD escapes (RFC 1035 §5.1); ';' starts a comment.
    private static List<Token> Tokenize(string text, out string? problem, out int column)
    {
        var tokens = new List<Token>();
        problem = null;
        column = 1;
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            if (c == ';')
            {
                break;
            }

            int start = i;
            var value = new StringBuilder();
            if (c == '"')
            {
                i++;
                bool closed = false;
                while (i < text.Length)
                {
                    char d = text[i];
                    if (d == '"')
                    {
                        closed = true;
                        i++;
                        break;
                    }

                    if (d == '\\' && i + 1 < text.Length)
                    {
                        if (i + 3 < text.Length && char.IsAsciiDigit(text[i + 1]) && char.IsAsciiDigit(text[i + 2]) && char.IsAsciiDigit(text[i + 3]))
                        {
                            int code = int.Parse(text.AsSpan(i + 1, 3), CultureInfo.InvariantCulture);
                            if (code > 255)
                            {
                                problem = $"escape \\{text.Substring(i + 1, 3)} is above 255";
                                column = i + 1;
                                return tokens;
                            }

                            value.Append((char)code);
                            i += 4;
                            continue;
                        }

                        value.Append(text[i + 1]);
                        i += 2;
                        continue;
                    }

                    value.Append(d);
                    i++;
                }

                if (!closed)
                {
                    problem = "a quoted string is not closed";
                    column = start + 1;
                    return tokens;
                }

                tokens.Add(new Token(value.ToString(), start + 1, true));
                continue;
            }

            while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] != ';')
            {
                value.Append(text[i]);
                i++;
            }

            tokens.Add(new Token(value.ToString(), start + 1, false));
        }

        return tokens;
    }

    private readonly record struct Token(string Text, int Column, bool Quoted);
}
