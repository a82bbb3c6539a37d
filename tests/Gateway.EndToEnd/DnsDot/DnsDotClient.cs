using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>A tiny DNS client for the tests that kdig cannot express (pipelining with our own ids, load).</summary>
internal static class DnsDotClient
{
    public static byte[] Query(string name, ushort type, ushort id)
    {
        var m = new List<byte> { (byte)(id >> 8), (byte)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1 };
        foreach (string label in name.Split('.'))
        {
            m.Add((byte)label.Length);
            m.AddRange(Encoding.ASCII.GetBytes(label));
        }

        m.AddRange([0, (byte)(type >> 8), (byte)type, 0, 1]);
        m.AddRange([0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
        return m.ToArray();
    }

    public static int Rcode(ReadOnlySpan<byte> response) => response[3] & 0x0F;

    public static ushort Id(ReadOnlySpan<byte> response) => BinaryPrimitives.ReadUInt16BigEndian(response);

    /// <summary>The question name of a message in presentation form (uncompressed question).</summary>
    public static string QuestionName(ReadOnlySpan<byte> message)
    {
        var sb = new StringBuilder();
        int at = 12;
        while (message[at] != 0)
        {
            if (sb.Length > 0)
            {
                sb.Append('.');
            }

            sb.Append(Encoding.ASCII.GetString(message.Slice(at + 1, message[at])));
            at += 1 + message[at];
        }

        return sb.ToString();
    }

    /// <summary>One UDP query; null when nothing came back within <paramref name="timeout"/>.</summary>
    public static async Task<byte[]?> UdpAsync(int port, byte[] query, TimeSpan timeout)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(query);
        byte[] buffer = new byte[65536];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return buffer[..n];
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
