using System.Buffers.Binary;
using System.Text;

namespace Gateway.Tests.DnsDot;

/// <summary>Builds DNS messages for tests (independent of the code under test).</summary>
internal static class DnsTestMessages
{
    public static byte[] EncodeName(string name)
    {
        var bytes = new List<byte>();
        foreach (string label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }

        bytes.Add(0);
        return bytes.ToArray();
    }

    public static byte[] Query(string name, ushort type, ushort id = 0x1234, bool edns = true, ushort udpSize = 1232, bool dnssecOk = false, byte[]? options = null)
    {
        var m = new List<byte>();
        m.AddRange([(byte)(id >> 8), (byte)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, (byte)(edns ? 1 : 0)]);
        m.AddRange(EncodeName(name));
        m.AddRange([(byte)(type >> 8), (byte)type, 0, 1]);
        if (edns)
        {
            options ??= [];
            m.AddRange([0, 0, 41, (byte)(udpSize >> 8), (byte)udpSize, 0, 0, (byte)(dnssecOk ? 0x80 : 0), 0, (byte)(options.Length >> 8), (byte)options.Length]);
            m.AddRange(options);
        }

        return m.ToArray();
    }

    /// <summary>A response to <paramref name="name"/>/<paramref name="type"/> with the given answer records (owner = pointer to the question).</summary>
    public static byte[] Response(string name, ushort type, int rcode, (ushort Type, uint Ttl, byte[] Data)[] answers, (uint Ttl, uint Minimum)? soa = null, bool opt = false, ushort id = 0x1234)
    {
        var m = new List<byte>();
        m.AddRange([(byte)(id >> 8), (byte)id, 0x81, (byte)(0x80 | rcode), 0, 1, 0, (byte)answers.Length, 0, (byte)(soa is null ? 0 : 1), 0, (byte)(opt ? 1 : 0)]);
        m.AddRange(EncodeName(name));
        m.AddRange([(byte)(type >> 8), (byte)type, 0, 1]);
        foreach ((ushort t, uint ttl, byte[] data) in answers)
        {
            m.AddRange([0xC0, 12, (byte)(t >> 8), (byte)t, 0, 1]);
            AddU32(m, ttl);
            m.AddRange([(byte)(data.Length >> 8), (byte)data.Length]);
            m.AddRange(data);
        }

        if (soa is { } s)
        {
            var rdata = new List<byte>();
            rdata.AddRange(EncodeName("ns.test"));
            rdata.AddRange(EncodeName("hostmaster.test"));
            AddU32(rdata, 1);
            AddU32(rdata, 3600);
            AddU32(rdata, 600);
            AddU32(rdata, 86400);
            AddU32(rdata, s.Minimum);
            m.AddRange(EncodeName("test"));
            m.AddRange([0, 6, 0, 1]);
            AddU32(m, s.Ttl);
            m.AddRange([(byte)(rdata.Count >> 8), (byte)rdata.Count]);
            m.AddRange(rdata);
        }

        if (opt)
        {
            // OPT with a keepalive of 25 s and some padding, as unbound sends over TLS.
            m.AddRange([0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 14, 0, 11, 0, 2, 0, 250, 0, 12, 0, 4, 0, 0, 0, 0]);
        }

        return m.ToArray();
    }

    private static void AddU32(List<byte> list, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        list.AddRange(b.ToArray());
    }
}
