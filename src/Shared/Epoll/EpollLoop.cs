// One copy of the plugins' epoll loops (System.Net.Sockets' completions without the hop to the thread pool): linked
// into plugins/http-proxy/ and plugins/dns-dot/ with <Compile Include=... Link=...> (as src/Shared/Sockets is into the
// host and wireguard). Each assembly gets its own internal copy, named in that assembly's namespace (GATEWAY_DNSDOT
// picks dns-dot's), so a test project that sees the internals of both never finds two types of the same full name.
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

#if GATEWAY_DNSDOT
namespace Gateway.Plugins.DnsDot.Server.Epoll;
#else
namespace Gateway.Plugins.HttpProxy.Io.Epoll;
#endif

/// <summary>
/// One thread waiting in epoll_wait(2) for the sockets of <see cref="LoopSocket"/>s and completing their operations
/// itself, so the code awaiting them (a SOCKS session, its relay) continues on this thread: no hand-off to the thread
/// pool per wait. Everything that runs here must not block: the SOCKS session leaves the loop (to the thread pool)
/// before bcrypt, name resolution and parent proxies (<see cref="LeaveAsync"/>).
/// </summary>
internal sealed class EpollLoop : IDisposable
{
    private const int MaxEvents = 256;
    private const ulong WakeToken = ulong.MaxValue;

    [ThreadStatic]
    private static EpollLoop? t_current;

    private readonly int _epoll;
    private readonly int _wake;
    private readonly Thread _thread;
    private readonly object _gate = new();
    private LoopSocket?[] _slots = new LoopSocket?[64];
    private readonly Stack<int> _free = new();
    private int _used;
    private uint _generation;
    private volatile bool _stopping;

    public EpollLoop(string name)
    {
        _epoll = EpollNative.EpollCreate1(EpollNative.EpollCloexec);
        if (_epoll < 0)
        {
            throw new SocketException((int)EpollNative.ToSocketError(Marshal.GetLastPInvokeError()));
        }

        _wake = EpollNative.EventFd(0, EpollNative.EfdCloexec | EpollNative.EfdNonblock);
        if (_wake < 0 || EpollNative.Add(_epoll, _wake, WakeToken) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            EpollNative.Close(_epoll);
            throw new SocketException((int)EpollNative.ToSocketError(errno));
        }

        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>True on a loop's own thread: code here must not block.</summary>
    public static bool OnLoopThread => t_current is not null;

    /// <summary>
    /// Continues on the thread pool when running on a loop's thread, before a step that may block (bcrypt, name
    /// resolution, parent proxies, a blocking connect): the loop serves other connections, which must not wait for it.
    /// Completes at once anywhere else.
    /// </summary>
    public static LeaveAwaitable LeaveAsync() => default;

    /// <summary>True once disposed: the epoll descriptor is closed (or about to be).</summary>
    public bool Stopped => _stopping;

    /// <summary>The epoll descriptor.</summary>
    public int Descriptor => _epoll;

    /// <summary>Sockets on this loop now.</summary>
    public int Count => Volatile.Read(ref _used);

    /// <summary>
    /// Puts <paramref name="socket"/> (connected, or about to connect with <see cref="LoopSocket.ConnectAsync"/>) on
    /// this loop. <paramref name="register"/> registers it with epoll at once (an accepted socket); a socket about to
    /// connect registers after connect(2) started.
    /// </summary>
    public LoopSocket Add(Socket socket, bool register)
    {
        LoopSocket loopSocket;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopping, this);
            int slot;
            if (!_free.TryPop(out slot))
            {
                slot = _used;
                if (slot == _slots.Length)
                {
                    LoopSocket?[] grown = new LoopSocket?[slot * 2];
                    _slots.CopyTo(grown, 0);
                    Volatile.Write(ref _slots, grown);
                }
            }

            // The generation tells a late event for a closed socket from one for the socket now in its slot.
            ulong token = (ulong)(uint)slot | ((ulong)++_generation << 32);
            loopSocket = new LoopSocket(this, socket, token);
            _slots[slot] = loopSocket;
            _used++;
        }

        if (register)
        {
            try
            {
                loopSocket.Attach();
            }
            catch
            {
                loopSocket.Dispose();
                throw;
            }
        }

        return loopSocket;
    }

    /// <summary>Frees the socket's slot.</summary>
    internal void Remove(LoopSocket socket)
    {
        lock (_gate)
        {
            int slot = (int)(uint)socket.Token;
            if (_slots[slot] == socket)
            {
                _slots[slot] = null;
                _free.Push(slot);
                _used--;
            }
        }
    }

    private unsafe void Run()
    {
        t_current = this;
        byte* events = stackalloc byte[MaxEvents * 16];
        int size = EpollNative.EventSize;
        int dataOffset = EpollNative.EventDataOffset;
        while (!_stopping)
        {
            int count = EpollNative.EpollWait(_epoll, events, MaxEvents, -1);
            if (count < 0)
            {
                if (Marshal.GetLastPInvokeError() == EpollNative.EIntr)
                {
                    continue;
                }

                break;
            }

            LoopSocket?[] slots = Volatile.Read(ref _slots);
            for (int i = 0; i < count; i++)
            {
                byte* ev = events + (i * size);
                ulong token = *(ulong*)(ev + dataOffset);
                if (token == WakeToken)
                {
                    continue;
                }

                int slot = (int)(uint)token;
                if (slot < slots.Length && slots[slot] is { } socket && socket.Token == token)
                {
                    try
                    {
                        socket.OnEvents(*(uint*)ev);
                    }
                    catch (Exception) when (!_stopping)
                    {
                        // Continuations report their failures through their own tasks; whatever still escapes is a
                        // fault of this socket alone: it ends (its waiting operations fail), the loop serves on.
                        socket.Abort();
                    }
                }
            }
        }
    }

    /// <summary>Stops the thread and fails every operation still waiting on this loop.</summary>
    public unsafe void Dispose()
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            _stopping = true;
        }

        ulong one = 1;
        EpollNative.Write(_wake, (byte*)&one, sizeof(ulong));
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join(TimeSpan.FromSeconds(5));
        }

        LoopSocket?[] slots;
        lock (_gate)
        {
            slots = (LoopSocket?[])_slots.Clone();
        }

        foreach (LoopSocket? socket in slots)
        {
            socket?.Abort();
        }

        EpollNative.Close(_wake);
        EpollNative.Close(_epoll);
    }

    /// <summary>
    /// What <see cref="LeaveAsync"/> returns. On a loop's thread the awaiting code always continues on the thread pool:
    /// an awaited <c>Task.Yield</c> wrapped in a ValueTask could complete on the pool before its caller checked it, and
    /// the caller would then go on, synchronously, on the loop's thread.
    /// </summary>
    public readonly struct LeaveAwaitable : ICriticalNotifyCompletion
    {
        /// <summary>True off a loop's thread (nothing to leave).</summary>
        public bool IsCompleted => t_current is null;

        /// <summary>The same as <see cref="IsCompleted"/>: leaving never fails.</summary>
        public bool IsCompletedSuccessfully => IsCompleted;

        public LeaveAwaitable GetAwaiter() => this;

        /// <summary>No context is captured either way: the continuation runs on the thread pool.</summary>
        public LeaveAwaitable ConfigureAwait(bool continueOnCapturedContext) => this;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) => ThreadPool.QueueUserWorkItem(static c => c(), continuation, preferLocal: false);

        public void UnsafeOnCompleted(Action continuation) => ThreadPool.UnsafeQueueUserWorkItem(static c => c(), continuation, preferLocal: false);
    }
}
