using Gateway.Plugins.DnsDot.Wire;

namespace Gateway.Plugins.DnsDot.Security;

/// <summary>The answers a client gets when it is not admitted: REFUSED, or an empty TC=1 answer (the RRL slip).</summary>
internal static class AdmissionAnswer
{
    /// <summary>
    /// Writes the answer for <paramref name="result"/> to <paramref name="query"/> into <paramref name="destination"/>
    /// (room for the question plus an OPT): REFUSED for <see cref="AdmissionResult.NotAllowed"/> and
    /// <see cref="AdmissionResult.Limited"/>, header and question with TC=1 for <see cref="AdmissionResult.Truncate"/>.
    /// Returns 0 when nothing is to be sent: a drop, or a message that is not a readable query (a refused client
    /// gets no error answers to garbage: nothing to reflect).
    /// </summary>
    public static int Write(ReadOnlySpan<byte> query, AdmissionResult result, Span<byte> destination)
    {
        if (result is AdmissionResult.Allow or AdmissionResult.Drop ||
            DnsMessageReader.TryParseQuery(query, out DnsRequestInfo info) != DnsParseStatus.Ok)
        {
            return 0;
        }

        if (result == AdmissionResult.Truncate)
        {
            // RFC 1035 §4.1.1 TC: "this message was truncated"; the question alone (RFC 2181 §9) tells the client to
            // ask again over TCP, which proves its address and is not rate-limited the same way.
            int length = DnsMessageWriter.WriteRcode(query, info, echoQuestion: true, DnsConstants.RcodeNoError, destination);
            destination[2] |= DnsConstants.FlagTc >> 8;
            return length;
        }

        return DnsMessageWriter.WriteRcode(query, info, echoQuestion: true, DnsConstants.RcodeRefused, destination);
    }
}
