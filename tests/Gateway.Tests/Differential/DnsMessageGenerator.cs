using System.Buffers.Binary;
using System.Text;

namespace Gateway.Tests.Differential;

/// <summary>
/// DNS messages for the differential tests: random well-formed queries and responses (compression pointers,
/// several sections, EDNS options), RFC examples, and seeded mutations of all of them. Deterministic per seed.
/// </summary>
internal sealed class DnsMessageGenerator(int seed)
{
    private static readonly ushort[] QuestionTypes = [1, 28, 5, 15, 16, 6, 2, 33, 257, 255, 12];
    private readonly Random _random = new(seed);

    /// <summary>A random well-formed message.</summary>
    public byte[] Next(bool response)
    {
        var w = new Writer();
        w.U16((ushort)_random.Next(65536));
        int rcode = response ? _random.Next(6) : 0;
        int flags = (response ? 0x8000 | 0x80 : 0) | (_random.Next(2) == 0 ? 0x100 : 0) | (_random.Next(4) == 0 ? 0x20 : 0) | (_random.Next(4) == 0 ? 0x10 : 0) |
            (response && _random.Next(3) == 0 ? 0x400 : 0) | rcode;
        w.U16((ushort)flags);
        int answers = response ? _random.Next(5) : 0;
        int authority = response ? _random.Next(3) : 0;
        int additional = response ? _random.Next(3) : 0;
        bool opt = _random.Next(5) < 3;
        w.U16(1);
        w.U16((ushort)answers);
        w.U16((ushort)authority);
        w.U16((ushort)(additional + (opt ? 1 : 0)));
        string qname = Name();
        w.Name(qname, compress: false);
        w.U16(QuestionTypes[_random.Next(QuestionTypes.Length)]);
        w.U16(1);
        // Sometimes the OPT sits between additional records (legal: RFC 6891 §6.1.1 fixes only its section).
        int optAfter = opt && additional > 0 && _random.Next(4) == 0 ? answers + authority + _random.Next(additional) : -1;
        for (int i = 0; i < answers + authority + additional; i++)
        {
            Record(w, i < answers ? qname : Name() + "." + qname, authority: i >= answers && i < answers + authority);
            if (i == optAfter)
            {
                Opt(w);
                opt = false;
            }
        }

        if (opt)
        {
            Opt(w);
        }

        return w.ToArray();
    }

    /// <summary>A copy of <paramref name="message"/> with one random change: a byte, a length, a count, a cut.</summary>
    public byte[] Mutate(byte[] message)
    {
        byte[] m = (byte[])message.Clone();
        switch (_random.Next(6))
        {
            case 0 when m.Length > 0:
                m[_random.Next(m.Length)] ^= (byte)(1 << _random.Next(8));
                return m;
            case 1 when m.Length > 0:
                m[_random.Next(m.Length)] = (byte)_random.Next(256);
                return m;
            case 2:
                return m[.._random.Next(m.Length + 1)];
            case 3 when m.Length >= 12:
                int count = 4 + (2 * _random.Next(4));
                BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(count), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(count)) + _random.Next(-1, 2)));
                return m;
            case 4 when m.Length > 12:
                // A label length or pointer byte somewhere after the header.
                int at = 12 + _random.Next(m.Length - 12);
                m[at] = (byte)(_random.Next(2) == 0 ? 0xC0 | _random.Next(4) : _random.Next(64));
                return m;
            default:
                return [.. m, .. new byte[_random.Next(1, 4)]];
        }
    }

    private string Name()
    {
        int labels = _random.Next(1, 4);
        var sb = new StringBuilder();
        for (int i = 0; i < labels; i++)
        {
            if (i > 0)
            {
                sb.Append('.');
            }

            int length = _random.Next(1, 12);
            for (int j = 0; j < length; j++)
            {
                const string chars = "abcdefghijklmnopqrstuvwxyzABCDEFXYZ0123456789-_";
                sb.Append(chars[_random.Next(chars.Length)]);
            }
        }

        return sb.ToString();
    }

    private void Record(Writer w, string owner, bool authority)
    {
        w.Name(owner, compress: _random.Next(4) != 0);
        int kind = authority ? (_random.Next(2) == 0 ? 6 : 2) : _random.Next(7);
        ushort type = kind switch { 0 => 1, 1 => 28, 2 => 2, 3 => 15, 4 => 16, 5 => 5, _ => 6 };
        w.U16(type);
        w.U16(1);
        w.U32((uint)_random.Next(0, 86400 * 2));
        int lengthAt = w.Length;
        w.U16(0);
        int start = w.Length;
        switch (type)
        {
            case 1:
                w.Bytes([192, 0, 2, (byte)_random.Next(256)]);
                break;
            case 28:
                w.Bytes([0x20, 0x01, 0x0d, 0xb8, .. new byte[11], (byte)_random.Next(256)]);
                break;
            case 2 or 5:
                w.Name(Name() + ".example.test", compress: true);
                break;
            case 15:
                w.U16((ushort)_random.Next(100));
                w.Name("mail." + owner, compress: true);
                break;
            case 16:
                for (int s = _random.Next(1, 3); s > 0; s--)
                {
                    byte[] text = Encoding.ASCII.GetBytes(Name());
                    w.Bytes([(byte)text.Length, .. text]);
                }

                break;
            default:
                w.Name("ns1." + owner, compress: true);
                w.Name("hostmaster." + owner, compress: true);
                for (int i = 0; i < 5; i++)
                {
                    w.U32((uint)_random.Next(1, 1 << 20));
                }

                break;
        }

        BinaryPrimitives.WriteUInt16BigEndian(w.Span(lengthAt), (ushort)(w.Length - start));
    }

    private void Opt(Writer w)
    {
        w.Bytes([0]);
        w.U16(41);
        w.U16((ushort)_random.Next(512, 4097));
        w.U32(_random.Next(2) == 0 ? 0x8000u : 0);
        int lengthAt = w.Length;
        w.U16(0);
        int start = w.Length;
        if (_random.Next(3) == 0)
        {
            w.U16(8);
            w.U16(7);
            w.Bytes([0, 1, 24, 0, 192, 0, 2]);
        }

        if (_random.Next(3) == 0)
        {
            w.U16(10);
            w.U16(8);
            w.Bytes([1, 2, 3, 4, 5, 6, 7, 8]);
        }

        if (_random.Next(3) == 0)
        {
            w.U16(11);
            w.U16(2);
            w.U16((ushort)_random.Next(1000));
        }

        if (_random.Next(4) == 0)
        {
            int pad = _random.Next(40);
            w.U16(12);
            w.U16((ushort)pad);
            w.Bytes(new byte[pad]);
        }

        BinaryPrimitives.WriteUInt16BigEndian(w.Span(lengthAt), (ushort)(w.Length - start));
    }

    /// <summary>A message writer with RFC 1035 §4.1.4 compression of name suffixes already written.</summary>
    private sealed class Writer
    {
        private readonly List<byte> _bytes = [];
        private readonly Dictionary<string, int> _names = new(StringComparer.OrdinalIgnoreCase);

        public int Length => _bytes.Count;

        public void U16(ushort value) => Bytes([(byte)(value >> 8), (byte)value]);

        public void U32(uint value) => Bytes([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            foreach (byte b in bytes)
            {
                _bytes.Add(b);
            }
        }

        public Span<byte> Span(int offset) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_bytes)[offset..];

        public void Name(string name, bool compress)
        {
            string[] labels = name.Split('.');
            for (int i = 0; i < labels.Length; i++)
            {
                string suffix = string.Join('.', labels[i..]);
                if (compress && _names.TryGetValue(suffix, out int offset))
                {
                    U16((ushort)(0xC000 | offset));
                    return;
                }

                if (_bytes.Count < 0x3FFF)
                {
                    _names.TryAdd(suffix, _bytes.Count);
                }

                byte[] label = Encoding.ASCII.GetBytes(labels[i]);
                Bytes([(byte)label.Length, .. label]);
            }

            Bytes([0]);
        }

        public byte[] ToArray() => [.. _bytes];
    }
}
