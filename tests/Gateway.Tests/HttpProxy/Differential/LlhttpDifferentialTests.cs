using System.Text;
using Xunit.Abstractions;

namespace Gateway.Tests.HttpProxy.Differential;

/// <summary>
/// The proxy's request parser (head, framing, chunked body) against llhttp on the same bytes (issue #13). Where
/// both take a request they must agree on every part of it — method, target, version, fields, body, and above
/// all where it ends, since a proxy and an origin that disagree there are a request-smuggling pair. Where they
/// disagree on taking it at all, the case must be one of the deliberate differences named here (and in
/// plugins/http-proxy/README.md, "Request parsing").
/// </summary>
public sealed class LlhttpDifferentialTests(ITestOutputHelper output)
{
    private static readonly byte[] EndOfHead = "\r\n\r\n"u8.ToArray();

    [Fact]
    public async Task ParseRequest_CorpusAndMutations_AgreesWithLlhttpOrDiffersDeliberately()
    {
        List<byte[]> inputs = [.. RequestCorpus.WithMutations(count: 8000, seed: 13)];
        IReadOnlyList<ParseOutcome> reference = await LlhttpReference.ParseAsync(inputs);
        List<ParseOutcome> ours = [.. inputs.Select(input => ProxyRequestReader.Read(input))];

        // Where one side still waits for the end of the head and the other already refused, the waiting side is
        // asked again with the head ended: llhttp refuses a prefix only when it refuses every continuation, and
        // this proxy must then refuse too (or differ deliberately).
        List<int> waiting = [.. Enumerable.Range(0, inputs.Count).Where(i => (ours[i].Outcome, reference[i].Outcome) is ("incomplete", "rejected") or ("rejected", "incomplete"))];
        IReadOnlyList<ParseOutcome> referenceEnded = await LlhttpReference.ParseAsync([.. waiting.Select(i => (byte[])[.. inputs[i], .. EndOfHead])]);
        for (int w = 0; w < waiting.Count; w++)
        {
            int i = waiting[w];
            inputs[i] = [.. inputs[i], .. EndOfHead];
            ours[i] = ProxyRequestReader.Read(inputs[i]);
            reference = [.. reference.Take(i), referenceEnded[w], .. reference.Skip(i + 1)];
        }

        var problems = new StringBuilder();
        var tally = new SortedDictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < inputs.Count; i++)
        {
            string? problem = Compare(ours[i], reference[i], out string category);
            tally[category] = tally.GetValueOrDefault(category) + 1;
            if (problem is not null && problems.Length < 20_000)
            {
                problems.Append(problem).Append(" for ").AppendLine(Printable(inputs[i]));
            }
        }

        string summary = string.Join("\n", tally.Select(t => $"{t.Value,6} {t.Key}"));
        output.WriteLine(summary);
        Assert.True(problems.Length == 0, problems + "\n" + summary);
        // Both parsers must really have been exercised: most mutations are refused by both, many taken by both.
        Assert.True(tally.GetValueOrDefault("complete/complete") > 300, summary);
        Assert.True(tally.GetValueOrDefault("rejected/rejected") > 1000, summary);
    }

    /// <summary>Null when the two agree or differ deliberately; otherwise what is wrong.</summary>
    private static string? Compare(ParseOutcome ours, ParseOutcome theirs, out string category)
    {
        category = $"{ours.Outcome}/{theirs.Outcome}";
        bool oursTook = ours.Outcome is "complete" or "forwarding";
        bool theirsTook = theirs.Outcome is "complete" or "forwarding";
        if (oursTook && theirsTook)
        {
            if (ours.Method != theirs.Method || ours.Url != theirs.Url || ours.Minor != theirs.Minor)
            {
                return $"request line differs: {ours.Method} {ours.Url} 1.{ours.Minor} vs {theirs.Method} {theirs.Url} 1.{theirs.Minor}";
            }

            if (!ours.Headers.SequenceEqual(theirs.Headers))
            {
                return $"fields differ: [{Fields(ours)}] vs [{Fields(theirs)}]";
            }

            if (ours.Outcome != theirs.Outcome || ours.Consumed != theirs.Consumed)
            {
                return $"message ends at {ours.Consumed} ({ours.Outcome}) here, at {theirs.Consumed} ({theirs.Outcome}) in llhttp";
            }

            if (!ours.Body.AsSpan().SequenceEqual(theirs.Body))
            {
                return $"body differs ({ours.Body.Length} bytes here, {theirs.Body.Length} in llhttp)";
            }

            return null;
        }

        if (ours.Outcome == theirs.Outcome)
        {
            return null;
        }

        if (ours.Outcome == "rejected" && RefusedDeliberately(ours.Error!) is { } reason)
        {
            category = $"refused here only (deliberate): {reason}";
            return null;
        }

        if (oursTook && theirs.Outcome == "rejected" && TakenDeliberately(theirs.Error!) is { } why)
        {
            category = $"taken here only (deliberate): {why}";
            return null;
        }

        category = $"{ours.Outcome} here ({ours.Error}), {theirs.Outcome} in llhttp ({theirs.Error})";
        return category;
    }

    /// <summary>
    /// Requests this proxy refuses although llhttp takes them, and why. Refusing is the safe direction: the client
    /// gets a 4xx/5xx and nothing reaches an origin.
    /// </summary>
    private static string? RefusedDeliberately(string ourError) => ourError switch
    {
        // A forward proxy takes absolute http:// URIs (and authority-form for CONNECT) only.
        "target not an absolute http URI" or "CONNECT target not host:port" => "not a proxy request-target",
        // Issue #13: Connection naming Content-Length / Transfer-Encoding / Host.
        "FramingFieldInConnection" => "framing field named in Connection",
        // RFC 9112 §6.1: 501 for transfer codings besides a single chunked; faulty framing in HTTP/1.0.
        "UnsupportedTransferCoding" => "transfer coding besides chunked",
        "TransferEncodingInHttp10" => "Transfer-Encoding in HTTP/1.0",
        // RFC 9112 §3.2: "MUST respond with 400 ... more than one Host header field line".
        "DuplicateHost" => "more than one Host",
        // RFC 9110 §15.6.6: HTTP/2.0 and others in HTTP/1 syntax get 505.
        "UnsupportedVersion" => "HTTP major version other than 1",
        // RFC 9112 §3: "MUST NOT attempt to autocorrect" an invalid request line; llhttp skips extra spaces.
        "request line with extra whitespace" => "extra whitespace in the request line",
        // "GET url" without a version is HTTP/0.9, which llhttp still takes and RFC 9112 no longer describes.
        "no HTTP version" => "HTTP/0.9 request line",
        // RFC 9112 §2.2 lets a recipient take a bare LF as a line end; a proxy that does reads lines differently from
        // the next hop, so none is taken (llhttp skips a bare LF before the request line).
        "BareLineBreak" => "bare LF or CR",
        // 19 digits and more do not fit a long; llhttp takes up to 2^64 - 1.
        "BadContentLength" => "Content-Length of 19 digits or more",
        // A chunk of 2^60 bytes or more is not a real body; llhttp takes sizes up to 2^64 - 1.
        "chunked: SizeTooLarge" => "chunk size of 16 significant hex digits or more",
        // Chunk extensions are passed on as received, so they must follow the grammar exactly (llhttp takes ";=x").
        "chunked: BadExtension" => "chunk extension outside the grammar",
        // llhttp lets a CONNECT or Upgrade request through with any Transfer-Encoding (it reads no body there).
        "ChunkedNotFinal" => "Transfer-Encoding not ending in chunked",
        _ => null,
    };

    /// <summary>
    /// Requests this proxy takes although llhttp refuses them, and why that is harmless: the proxy forwards them in
    /// a form every HTTP/1.1 parser reads the same way (an origin running llhttp answers 400 to them).
    /// </summary>
    private static string? TakenDeliberately(string theirError) => theirError switch
    {
        // RFC 9110 §9.1: methods are extensible tokens; llhttp knows a fixed list (PROPFIND yes, FOO no).
        "HPE_INVALID_METHOD: Invalid method encountered" or "HPE_INVALID_METHOD: Expected space after method" => "extension method",
        // RFC 9112 §5: OWS (SP or HTAB) around a value is not part of it; llhttp refuses a tab after Content-Length's
        // digits. The length goes on as one normalized line.
        "HPE_INVALID_CONTENT_LENGTH: Invalid character in Content-Length" => "HTAB around Content-Length, sent on normalized",
        // RFC 9110 §5.6.1: a recipient must ignore empty list elements ("chunked,"); it goes on as "chunked".
        "HPE_INVALID_TRANSFER_ENCODING: Invalid `Transfer-Encoding` header value" => "empty element in Transfer-Encoding, sent on as chunked",
        // RFC 9110 §8.6 allows repeated equal Content-Length lines; they go out as one line.
        "HPE_UNEXPECTED_CONTENT_LENGTH: Duplicate Content-Length" => "repeated equal Content-Length, sent on as one",
        // RFC 9110 §2.5: a higher minor version is read as the highest we implement; it goes on as HTTP/1.1.
        "HPE_INVALID_VERSION: Invalid HTTP version" => "HTTP/1.2 and up read as HTTP/1.1",
        _ => null,
    };

    private static string Fields(ParseOutcome outcome) => string.Join(", ", outcome.Headers.Select(h => $"{h.Name}: {h.Value}"));

    private static string Printable(byte[] input)
    {
        var text = new StringBuilder(input.Length + 16);
        foreach (byte b in input.AsSpan(0, Math.Min(input.Length, 300)))
        {
            text.Append(b switch
            {
                (byte)'\r' => "\\r",
                (byte)'\n' => "\\n",
                (byte)'\t' => "\\t",
                < 0x20 or >= 0x7F => $"\\x{b:x2}",
                _ => ((char)b).ToString(),
            });
        }

        return text.ToString();
    }
}
