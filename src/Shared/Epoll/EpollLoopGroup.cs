// Linked into http-proxy and dns-dot, in each one's namespace: see EpollLoop.cs.
using System.Net.Sockets;

#if GATEWAY_DNSDOT
namespace Gateway.Plugins.DnsDot.Server.Epoll;
#else
namespace Gateway.Plugins.HttpProxy.Io.Epoll;
#endif

/// <summary>
/// One <see cref="EpollLoop"/> per processor this process may run on (started at the first socket), sockets handed
/// out round-robin. Disposed when the plugin stops: the threads end and whatever still waits on them fails.
/// </summary>
internal sealed class EpollLoopGroup : IDisposable
{
    private readonly object _gate = new();
    private EpollLoop[]? _loops;
    private uint _next;
    private readonly string _name;
    private bool _disposed;

    /// <param name="name">Names the loops' threads ("{name} epoll 0", ...).</param>
    public EpollLoopGroup(string name) => _name = name;

    /// <summary>Whether loops can run here (<see cref="EpollNative.IsSupported"/>).</summary>
    public static bool IsSupported => EpollNative.IsSupported;

    /// <summary>The loop for the next socket; null once disposed (the caller serves the socket without a loop).</summary>
    public EpollLoop? Next()
    {
        EpollLoop[] loops = Volatile.Read(ref _loops) ?? Start();
        return loops.Length switch
        {
            0 => null,
            1 => loops[0],
            _ => loops[Interlocked.Increment(ref _next) % (uint)loops.Length],
        };
    }

    /// <summary>
    /// <paramref name="socket"/> registered on the next loop; null (the caller serves it with System.Net.Sockets) once
    /// the group is disposed or when epoll refused the socket. The caller disposes the result before the socket is closed.
    /// </summary>
    public LoopSocket? TryAdd(Socket socket)
    {
        try
        {
            return Next()?.Add(socket, register: true);
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            return null;
        }
    }

    private EpollLoop[] Start()
    {
        lock (_gate)
        {
            if (_loops is null && !_disposed)
            {
                // Environment.ProcessorCount honours the CPU affinity and quota the process runs under.
                var loops = new EpollLoop[Math.Max(1, Environment.ProcessorCount)];
                for (int i = 0; i < loops.Length; i++)
                {
                    loops[i] = new EpollLoop($"{_name} epoll {i}");
                }

                Volatile.Write(ref _loops, loops);
            }

            return _loops ?? [];
        }
    }

    public void Dispose()
    {
        EpollLoop[]? loops;
        lock (_gate)
        {
            _disposed = true;
            loops = _loops;
            _loops = [];
        }

        foreach (EpollLoop loop in loops ?? [])
        {
            loop.Dispose();
        }
    }
}
