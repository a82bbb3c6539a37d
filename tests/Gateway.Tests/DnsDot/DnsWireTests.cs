using System.Buffers.Binary;
using System.Text;
using Gateway.Plugins.DnsDot.Wire;

namespace Gateway.Tests.DnsDot;

public sealed class DnsWireTests
{
    // RFC 1035 §4.1.4: F.ISI.ARPA at 20, FOO.F.ISI.ARPA at 40 (FOO + pointer to 20), ARPA at 64 (pointer to 26).
    private static byte[] Rfc1035CompressionExample()
    {
        byte[] m = new byte[100];
        byte[] fIsiArpa = [1, (byte)'F', 3, (byte)'I', (byte)'S', (byte)'I', 4, (byte)'A', (byte)'R', (byte)'P', (byte)'A', 0];
        fIsiArpa.CopyTo(m, 20);
        byte[] foo = [3, (byte)'F', (byte)'O', (byte)'O', 0xC0, 20];
        foo.CopyTo(m, 40);
        m[64] = 0xC0;
        m[65] = 26;
        return m;
    }

    [Theory]
    [InlineData(20, "f.isi.arpa", 32)]
    [InlineData(40, "foo.f.isi.arpa", 46)]
    [InlineData(64, "arpa", 66)]
    public void TryExpand_Rfc1035CompressionExample_ReadsNames(int offset, string expected, int expectedEnd)
    {
        byte[] m = Rfc1035CompressionExample();
        Span<byte> wire = stackalloc byte[255];
        Assert.True(DnsName.TryExpand(m, offset, wire, out int length, out int end));
        Assert.Equal(expectedEnd, end);
        Span<byte> text = stackalloc byte[1024];
        int written = DnsName.ToPresentation(wire[..length], text);
        Assert.Equal(expected, Encoding.ASCII.GetString(text[..written]));
    }

    [Fact]
    public void TryExpand_PointerLoop_Rejected()
    {
        byte[] m = new byte[40];
        m[20] = 0xC0;
        m[21] = 20;
        Assert.False(DnsName.TrySkip(m, 20, out _));
    }

    [Fact]
    public void TryExpand_ForwardPointer_Rejected()
    {
        byte[] m = new byte[40];
        m[20] = 0xC0;
        m[21] = 30;
        Assert.False(DnsName.TrySkip(m, 20, out _));
    }

    [Fact]
    public void TryExpand_PointerOutOfRange_Rejected()
    {
        byte[] m = new byte[40];
        m[38] = 0xFF;
        m[39] = 0xFF;
        Assert.False(DnsName.TrySkip(m, 38, out _));
    }

    [Fact]
    public void ToPresentation_UnusualBytes_EscapedAsDecimalLowerCase()
    {
        byte[] wire = [4, (byte)'W', (byte)'.', 0x20, 0xFF, 4, (byte)'T', (byte)'E', (byte)'S', (byte)'T', 0];
        Span<byte> text = stackalloc byte[1024];
        int written = DnsName.ToPresentation(wire, text);
        Assert.Equal("w\\046\\032\\255.test", Encoding.ASCII.GetString(text[..written]));
    }

    [Fact]
    public void TryParseQuery_EdnsQuery_ReadsQuestionAndOpt()
    {
        byte[] q = DnsTestMessages.Query("WWW.Example.TEST", 28, id: 0xBEEF, udpSize: 4096, dnssecOk: true, options: [0, 8, 0, 4, 0, 1, 0, 0]);
        Assert.Equal(DnsParseStatus.Ok, DnsMessageReader.TryParseQuery(q, out DnsRequestInfo info));
        Assert.Equal(0xBEEF, info.Id);
        Assert.Equal(28, info.QType);
        Assert.Equal(18, info.NameLength);
        Assert.True(info.HasOpt);
        Assert.True(info.DnssecOk);
        Assert.True(info.HasClientSubnet);
        Assert.Equal(1232, info.UdpLimit(1232));
    }

    [Fact]
    public void TryParseQuery_NoOpt_Limit512()
    {
        byte[] q = DnsTestMessages.Query("a.test", 1, edns: false);
        Assert.Equal(DnsParseStatus.Ok, DnsMessageReader.TryParseQuery(q, out DnsRequestInfo info));
        Assert.False(info.HasOpt);
        Assert.Equal(512, info.UdpLimit(1232));
    }

    [Fact]
    public void TryParseQuery_TwoQuestions_FormErr()
    {
        byte[] q = DnsTestMessages.Query("a.test", 1, edns: false);
        q[5] = 2;
        Assert.Equal(DnsParseStatus.FormErr, DnsMessageReader.TryParseQuery(q, out _));
    }

    [Fact]
    public void TryParseQuery_Response_Ignored()
    {
        byte[] q = DnsTestMessages.Query("a.test", 1);
        q[2] |= 0x80;
        Assert.Equal(DnsParseStatus.Ignore, DnsMessageReader.TryParseQuery(q, out _));
    }

    [Fact]
    public void WriteUpstreamQuery_StripsClientSubnetAndPadsTo128()
    {
        byte[] q = DnsTestMessages.Query("a.test", 1, options: [0, 8, 0, 4, 0, 1, 0, 0]);
        DnsMessageReader.TryParseQuery(q, out DnsRequestInfo info);
        byte[] upstream = new byte[512];
        int length = DnsMessageWriter.WriteUpstreamQuery(q, info, upstream, forwardClientSubnet: false);
        Assert.Equal(0, length % 128);
        Assert.Equal(DnsParseStatus.Ok, DnsMessageReader.TryParseQuery(upstream.AsSpan(0, length), out DnsRequestInfo sent));
        Assert.False(sent.HasClientSubnet);
        Assert.True(sent.HasOpt);
    }

    [Fact]
    public void FinishAnswer_OversizeForUdp_TruncatesToQuestionWithTc()
    {
        byte[] q = DnsTestMessages.Query("big.test", 16, id: 7);
        DnsMessageReader.TryParseQuery(q, out DnsRequestInfo info);
        byte[] txt = new byte[1001];
        txt[0] = 200;
        byte[] response = DnsTestMessages.Response("big.test", 16, 0, [(16, 60, txt), (16, 60, txt)], id: 99);
        byte[] buffer = new byte[4096];
        response.CopyTo(buffer, 0);
        int length = DnsMessageWriter.FinishAnswer(buffer, response.Length, q, info, [], 0, 0, info.UdpLimit(1232));
        Assert.Equal(7, BinaryPrimitives.ReadUInt16BigEndian(buffer));
        Assert.NotEqual(0, buffer[2] & 0x02);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(6)));
        Assert.Equal(info.QuestionEnd + DnsMessageWriter.OptSize, length);
    }

    [Fact]
    public void StripOpt_RemovesOptAndKeepsAnswers()
    {
        byte[] response = DnsTestMessages.Response("a.test", 1, 0, [(1, 300, [10, 0, 0, 1])], opt: true);
        byte[] name = DnsTestMessages.EncodeName("a.test");
        Assert.True(DnsMessageReader.TryScanResponse(response, name, 1, [], out DnsResponseInfo info));
        Assert.Equal(250, info.KeepaliveTimeout);
        int length = DnsMessageWriter.StripOpt(response, info);
        Assert.True(DnsMessageReader.TryScanResponse(response.AsSpan(0, length), name, 1, [], out DnsResponseInfo stripped));
        Assert.Equal(-1, stripped.OptStart);
        Assert.Equal(1, stripped.AnswerCount);
        Assert.Equal(300u, stripped.CacheTtl);
    }

    [Fact]
    public void TryScanResponse_OwnerNamePointsIntoEarlierTtl_RefusedWhenTtlsAreAskedFor()
    {
        // Two answers; the second owner name points at the last byte of the first answer's TTL (256: that byte is 0,
        // the root name). Aged by 30 s the byte becomes 0xE2, a pointer: the cache must not keep such an answer.
        byte[] response = DnsTestMessages.Response("a.test", 1, 0, [(1, 256, [10, 0, 0, 1]), (1, 300, [10, 0, 0, 2])]);
        const int firstTtl = 12 + 8 + 4 + 6;
        Assert.Equal(0x01, response[firstTtl + 2]);
        const int secondOwner = firstTtl + 4 + 2 + 4;
        response[secondOwner + 1] = firstTtl + 3;
        byte[] name = DnsTestMessages.EncodeName("a.test");

        Assert.True(DnsMessageReader.TryScanResponse(response, name, 1, [], out _));
        Assert.False(DnsMessageReader.TryScanResponse(response, name, 1, new int[8], out _));

        // A pointer to the question, and one into the first answer's A record (rdata, not a TTL), stay accepted.
        response[secondOwner + 1] = 12;
        Assert.True(DnsMessageReader.TryScanResponse(response, name, 1, new int[8], out DnsResponseInfo info));
        Assert.Equal(2, info.TtlCount);
    }

    [Fact]
    public void TryScanResponse_OwnerNameRunsIntoTheOpt_Refused()
    {
        // An additional record after the OPT whose owner points at the question's last byte (QCLASS 1: a one-byte
        // label) and so reads on into the OPT: once StripOpt cuts the OPT, the name would read the moved record instead.
        byte[] withOpt = DnsTestMessages.Response("a.test", 1, 0, [], opt: true);
        const int qclassLow = 12 + 8 + 3;
        byte[] response = [.. withOpt, 0xC0, qclassLow, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1];
        response[11] = 2;
        byte[] name = DnsTestMessages.EncodeName("a.test");

        Assert.False(DnsMessageReader.TryScanResponse(response, name, 1, [], out _));

        // The same record owned by the question's name is fine, and still readable once the OPT is cut.
        response[withOpt.Length + 1] = 12;
        Assert.True(DnsMessageReader.TryScanResponse(response, name, 1, new int[8], out DnsResponseInfo info));
        int length = DnsMessageWriter.StripOpt(response, info);
        Assert.True(DnsMessageReader.TryScanResponse(response.AsSpan(0, length), name, 1, new int[8], out DnsResponseInfo stripped));
        Assert.Equal(1, stripped.TtlCount);
    }

    [Fact]
    public void TryScanResponse_NxDomainWithSoa_NegativeTtlIsSoaMinimum()
    {
        byte[] response = DnsTestMessages.Response("nx.test", 1, 3, [], soa: (3600, 60));
        Assert.True(DnsMessageReader.TryScanResponse(response, DnsTestMessages.EncodeName("nx.test"), 1, [], out DnsResponseInfo info));
        Assert.True(info.IsNegative);
        Assert.Equal(60u, info.CacheTtl);
    }

    [Fact]
    public void TryParseQuery_RandomBytes_NeverThrows()
    {
        var random = new Random(1234);
        byte[] buffer = new byte[600];
        for (int i = 0; i < 200_000; i++)
        {
            int length = random.Next(0, buffer.Length);
            random.NextBytes(buffer.AsSpan(0, length));
            DnsParseStatus status = DnsMessageReader.TryParseQuery(buffer.AsSpan(0, length), out _);
            Assert.True(Enum.IsDefined(status));
            DnsMessageReader.TryScanResponse(buffer.AsSpan(0, length), DnsTestMessages.EncodeName("a.test"), 1, new int[8], out _);
        }
    }

    [Fact]
    public void TryParseQuery_MutatedQueries_NeverThrowAndWriteValidAnswers()
    {
        var random = new Random(99);
        byte[] original = DnsTestMessages.Query("www.example.test", 1, options: [0, 12, 0, 3, 0, 0, 0]);
        byte[] answer = new byte[70_000];
        for (int i = 0; i < 100_000; i++)
        {
            byte[] q = (byte[])original.Clone();
            for (int flips = random.Next(1, 4); flips > 0; flips--)
            {
                q[random.Next(q.Length)] = (byte)random.Next(256);
            }

            int length = random.Next(q.Length / 2, q.Length + 1);
            DnsParseStatus status = DnsMessageReader.TryParseQuery(q.AsSpan(0, length), out DnsRequestInfo info);
            if (status == DnsParseStatus.Ok)
            {
                int written = DnsMessageWriter.WriteRcode(q.AsSpan(0, length), info, true, DnsConstants.RcodeServFail, answer);
                Assert.Equal(DnsParseStatus.Ignore, DnsMessageReader.TryParseQuery(answer.AsSpan(0, written), out _));
                DnsMessageWriter.WriteUpstreamQuery(q.AsSpan(0, length), info, answer, forwardClientSubnet: false);
            }
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void UpstreamQueryLength_EqualsWhatWriteUpstreamQueryWrites(bool withOptions, bool forwardClientSubnet)
    {
        for (int extra = 0; extra < 300; extra += 7)
        {
            byte[]? options = null;
            if (withOptions)
            {
                // ECS (8), a cookie (10, per hop), padding (12, per hop) and an unassigned code of varying size.
                options = [0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 12, 0, 3, 0, 0, 0, 0xFD, 0xE9, (byte)(extra >> 8), (byte)extra, .. new byte[extra]];
            }

            byte[] q = DnsTestMessages.Query("length.test", 1, options: options);
            Assert.Equal(DnsParseStatus.Ok, DnsMessageReader.TryParseQuery(q, out DnsRequestInfo info));
            byte[] upstream = new byte[q.Length + 300];
            int written = DnsMessageWriter.WriteUpstreamQuery(q, info, upstream, forwardClientSubnet);
            Assert.Equal(written, DnsMessageWriter.UpstreamQueryLength(q, info, forwardClientSubnet));
            Assert.Equal(0, written % 128);
        }
    }
}
