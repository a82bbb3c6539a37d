using System.Net;
using System.Net.Sockets;

namespace Gateway.Tests.Sdk.Relay;

/// <summary>Two connected loopback TCP sockets: what a test holds (<see cref="Outer"/>) and what the relay gets (<see cref="Inner"/>).</summary>
internal sealed class SocketPair : IDisposable
{
    private SocketPair(Socket outer, Socket inner)
    {
        Outer = outer;
        Inner = inner;
    }

    public Socket Outer { get; }

    public Socket Inner { get; }

    public static async Task<SocketPair> ConnectAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var outer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await outer.ConnectAsync(listener.LocalEndPoint!);
        Socket inner = await listener.AcceptAsync();
        return new SocketPair(outer, inner);
    }

    /// <summary>Reads until the peer's FIN; throws <see cref="SocketException"/> on a reset.</summary>
    public static async Task<byte[]> ReadToEndAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var received = new MemoryStream();
        byte[] buffer = new byte[16 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
        {
            received.Write(buffer, 0, read);
        }

        return received.ToArray();
    }

    public void Dispose()
    {
        Outer.Dispose();
        Inner.Dispose();
    }
}
