using System.Text;

namespace Gateway.Plugins.WireGuard.UAPI;

/// <summary>What <see cref="UapiRequestReader.ReadLineAsync"/> found.</summary>
internal enum UapiReadResult
{
    /// <summary>A line (without its '\n').</summary>
    Line,

    /// <summary>The client closed the connection.</summary>
    EndOfStream,

    /// <summary>A line longer than <see cref="UapiRequestReader.MaxLineBytes"/>: the request is refused and the connection closed.</summary>
    LineTooLong,

    /// <summary>A request larger than <see cref="UapiRequestReader.MaxRequestBytes"/>: refused, the connection closed.</summary>
    RequestTooLarge,
}

/// <summary>
/// Reads UAPI request lines from a client stream with bounds (issue 13): a client of the socket can make the
/// gateway hold at most one line of <see cref="MaxLineBytes"/> and one request of <see cref="MaxRequestBytes"/>,
/// however much it sends. (A StreamReader would buffer a line without end in memory.)
/// </summary>
internal sealed class UapiRequestReader
{
    /// <summary>
    /// The longest line accepted, in bytes. The longest line `wg` sends is far shorter (an IPv6 endpoint with a
    /// scope, about 80 bytes; a hex key line is 75).
    /// </summary>
    public const int MaxLineBytes = 1024;

    /// <summary>
    /// The largest request accepted, in bytes (8 MiB): about 25,000 peers of `wg setconf` at ~300 bytes each, far
    /// more than a gateway carries, while a hostile or broken client cannot grow the gateway's memory without bound.
    /// </summary>
    public const int MaxRequestBytes = 8 * 1024 * 1024;

    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[4096];
    private readonly byte[] _line = new byte[MaxLineBytes];
    private int _start;
    private int _end;
    private long _requestBytes;

    /// <summary>Reads from <paramref name="stream"/>.</summary>
    public UapiRequestReader(Stream stream) => _stream = stream;

    /// <summary>Starts counting a new request's bytes against <see cref="MaxRequestBytes"/>.</summary>
    public void BeginRequest() => _requestBytes = 0;

    /// <summary>Reads the next line (ASCII, without '\n').</summary>
    public async ValueTask<(UapiReadResult Result, string? Line)> ReadLineAsync(CancellationToken cancellationToken)
    {
        int length = 0;
        while (true)
        {
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            int take = (newline < 0 ? _end : newline) - _start;
            if (length + take > MaxLineBytes)
            {
                return (UapiReadResult.LineTooLong, null);
            }

            Buffer.BlockCopy(_buffer, _start, _line, length, take);
            length += take;
            _requestBytes += take + (newline < 0 ? 0 : 1);
            if (_requestBytes > MaxRequestBytes)
            {
                return (UapiReadResult.RequestTooLarge, null);
            }

            if (newline >= 0)
            {
                _start = newline + 1;
                return (UapiReadResult.Line, Encoding.ASCII.GetString(_line, 0, length));
            }

            _start = 0;
            _end = await _stream.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
            if (_end == 0)
            {
                return (UapiReadResult.EndOfStream, null);
            }
        }
    }
}
