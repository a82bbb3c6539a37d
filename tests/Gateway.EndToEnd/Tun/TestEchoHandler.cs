using System.Collections.Concurrent;
using System.Security.Cryptography;
using Gateway.Sdk.Handlers;
using Gateway.Sdk.Networking;

namespace Gateway.EndToEnd.Tun;

/// <summary>
/// A UDP and TCP echo handler for TUN tests: echoes datagrams, echoes stream bytes while hashing them
/// (SHA-256 of everything a connection received), and records who connected to what.
/// </summary>
public sealed class TestEchoHandler : IDatagramHandler, IStreamHandler
{
    /// <summary>Completed connections: original client, local (virtual) endpoint, bytes and SHA-256 (hex) received.</summary>
    public ConcurrentQueue<(NetEndpoint Client, NetEndpoint Local, long Bytes, string Sha256)> Connections { get; } = new();

    /// <summary>Datagrams seen: client and local endpoint.</summary>
    public ConcurrentQueue<(NetEndpoint Client, NetEndpoint Local)> Datagrams { get; } = new();

    /// <inheritdoc/>
    public void OnDatagram(in DatagramRequest request, ReadOnlySpan<byte> payload)
    {
        Datagrams.Enqueue((request.Client, request.Local));
        request.Reply(payload);
    }

    /// <inheritdoc/>
    public async Task HandleAsync(StreamConnection connection, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[64 * 1024];
        long total = 0;
        while (true)
        {
            int n = await connection.Socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, cancellationToken);
            if (n == 0)
            {
                break;
            }

            hash.AppendData(buffer, 0, n);
            total += n;
            int sent = 0;
            while (sent < n)
            {
                sent += await connection.Socket.SendAsync(buffer.AsMemory(sent, n - sent), System.Net.Sockets.SocketFlags.None, cancellationToken);
            }
        }

        connection.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        Connections.Enqueue((connection.Client, connection.Local, total, Convert.ToHexStringLower(hash.GetHashAndReset())));
    }
}
