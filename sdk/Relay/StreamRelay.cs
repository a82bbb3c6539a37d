using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using Gateway.Sdk.Handlers;

namespace Gateway.Sdk.Relay;

/// <summary>
/// Copies bytes both ways between two connected TCP sockets until both directions are done, as a forwarder or a
/// CONNECT tunnel needs: half-close passed on, resets passed on, a whole-connection idle deadline, byte counts.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Half-close: when one side finishes sending (FIN), the relay shuts down sending towards the other side and
/// keeps copying the opposite direction, so request/response protocols that signal "end of request" with a FIN
/// (netcat, rsh, some RPC) still get their answer.</item>
/// <item>Abort: when a side resets or fails, the other side is reset too (RST, linger 0), so neither peer mistakes a
/// broken transfer for a complete one. Cancelling the token (the plugin stopping) resets both.</item>
/// <item>Idle: with <see cref="StreamRelayOptions.IdleTimeout"/>, a connection with no data in either direction for
/// that long is closed (FIN both ways). One-way transfers keep it alive.</item>
/// </list>
/// The relay never closes the sockets after a <see cref="RelayEnd.Completed"/> end: the caller disposes them as
/// usual. It works on <see cref="Socket"/>s (not streams) because half-close and reset are socket operations; for
/// a connection given by the host use <see cref="StreamConnection.Socket"/>.
/// </remarks>
public static class StreamRelay
{
    /// <summary>Relays between <paramref name="client"/> and <paramref name="upstream"/> until both directions end.</summary>
    /// <param name="client">The accepted connection (for example <see cref="StreamConnection.Socket"/>).</param>
    /// <param name="upstream">The connection the plugin opened.</param>
    /// <param name="options">Idle timeout, buffer size, byte counter; defaults when null.</param>
    /// <param name="cancellationToken">Cancelling resets both sides and ends the relay with <see cref="RelayEnd.Canceled"/>.</param>
    /// <returns>How it ended and the bytes moved each way. The relay does not throw for network failures.</returns>
    public static async Task<RelayResult> RunAsync(Socket client, Socket upstream, StreamRelayOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(upstream);
        options ??= new StreamRelayOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.BufferSize, 1024, nameof(options));

        using var deadline = new IdleDeadline(options.IdleTimeout, options.TimeProvider);
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var run = new Run(deadline, abort, options, cancellationToken);
        Task toUpstream = run.PumpAsync(client, upstream, Direction.Upstream);
        Task toClient = run.PumpAsync(upstream, client, Direction.Downstream);
        await Task.WhenAll(toUpstream, toClient).ConfigureAwait(false);

        RelayEnd end = run.End;
        if (end == RelayEnd.IdleTimeout)
        {
            Close(client);
            Close(upstream);
        }
        else if (end != RelayEnd.Completed)
        {
            Reset(client);
            Reset(upstream);
        }

        return new RelayResult(end, run.UpstreamBytes, run.DownstreamBytes);
    }

    /// <summary>Closes with RST: linger on with a zero timeout discards unsent data and resets the peer (RFC 9293 §3.10.7.1 ABORT).</summary>
    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed or unusable: the kernel has reset or closed it anyway.
        }

        socket.Dispose();
    }

    private static void Close(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The peer may already be gone; closing below is all that is left to do.
        }

        socket.Dispose();
    }

    private enum Direction
    {
        Upstream,
        Downstream,
    }

    private sealed class Run
    {
        private static readonly KeyValuePair<string, object?> UpstreamTag = new("direction", "upstream");
        private static readonly KeyValuePair<string, object?> DownstreamTag = new("direction", "downstream");

        private readonly IdleDeadline _deadline;
        private readonly CancellationTokenSource _abort;
        private readonly StreamRelayOptions _options;
        private readonly CancellationToken _caller;
        private int _end = -1;
        private long _upstreamBytes;
        private long _downstreamBytes;

        public Run(IdleDeadline deadline, CancellationTokenSource abort, StreamRelayOptions options, CancellationToken caller)
        {
            _deadline = deadline;
            _abort = abort;
            _options = options;
            _caller = caller;
        }

        public RelayEnd End => _end < 0 ? RelayEnd.Completed : (RelayEnd)_end;

        public long UpstreamBytes => Interlocked.Read(ref _upstreamBytes);

        public long DownstreamBytes => Interlocked.Read(ref _downstreamBytes);

        /// <summary>Copies <paramref name="from"/> to <paramref name="to"/>; never throws, records the first failure instead.</summary>
        public async Task PumpAsync(Socket from, Socket to, Direction direction)
        {
            RelayEnd fromFailed = direction == Direction.Upstream ? RelayEnd.ClientAborted : RelayEnd.UpstreamAborted;
            RelayEnd toFailed = direction == Direction.Upstream ? RelayEnd.UpstreamAborted : RelayEnd.ClientAborted;
            byte[] buffer = ArrayPool<byte>.Shared.Rent(_options.BufferSize);
            CancellationToken token = _abort.Token;
            try
            {
                while (true)
                {
                    int read;
                    try
                    {
                        read = await from.ReceiveAsync(buffer.AsMemory(0, _options.BufferSize), SocketFlags.None, token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
                    {
                        Fail(fromFailed);
                        return;
                    }

                    _deadline.Touch();
                    if (read == 0)
                    {
                        // Half-close: pass the FIN on and keep the other direction running.
                        try
                        {
                            to.Shutdown(SocketShutdown.Send);
                        }
                        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                        {
                            Fail(toFailed);
                        }

                        return;
                    }

                    try
                    {
                        for (int sent = 0; sent < read;)
                        {
                            sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, token).ConfigureAwait(false);
                            _deadline.Touch();
                        }
                    }
                    catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
                    {
                        Fail(toFailed);
                        return;
                    }

                    Count(direction, read);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        private void Count(Direction direction, int bytes)
        {
            if (direction == Direction.Upstream)
            {
                Interlocked.Add(ref _upstreamBytes, bytes);
                _options.Bytes?.Add(bytes, UpstreamTag);
            }
            else
            {
                Interlocked.Add(ref _downstreamBytes, bytes);
                _options.Bytes?.Add(bytes, DownstreamTag);
            }
        }

        /// <summary>
        /// Records why the relay ends (the first reason wins) and stops the other direction. A pump that fails because
        /// the shared token fired is not the cause: the deadline or the caller is.
        /// </summary>
        private void Fail(RelayEnd reason)
        {
            if (_abort.IsCancellationRequested)
            {
                reason = _caller.IsCancellationRequested ? RelayEnd.Canceled : _deadline.IsExpired ? RelayEnd.IdleTimeout : reason;
            }

            Interlocked.CompareExchange(ref _end, (int)reason, -1);
            try
            {
                _abort.Cancel();
            }
            catch (ObjectDisposedException)
            {
                Debug.Fail("the relay's token source outlives both pumps");
            }
        }
    }
}
