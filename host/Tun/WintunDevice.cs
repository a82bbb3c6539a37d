using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Gateway.Host.Tun;

/// <summary>
/// A Windows TUN device over wintun.dll's documented C API (wintun.h): WintunCreateAdapter,
/// WintunStartSession, WintunGetReadWaitEvent, WintunReceivePacket/WintunReleaseReceivePacket and
/// WintunAllocateSendPacket/WintunSendPacket. Compiled on every platform; UNTESTED on CI (Linux only):
/// wintun.dll must sit next to the gateway, and addresses/routes are not configured here (IP Helper API).
/// </summary>
internal sealed unsafe partial class WintunDevice : ITunDevice
{
    private const uint RingCapacity = 0x400000; // 4 MiB, within WINTUN_MIN/MAX_RING_CAPACITY
    private const int BatchSize = 64;

    private readonly ILogger _logger;
    private readonly nint _adapter;
    private readonly nint _session;
    private readonly nint _readEvent;
    private Thread? _thread;
    private volatile bool _stopping;

    private WintunDevice(nint adapter, nint session, string name, int mtu, ILogger logger)
    {
        _adapter = adapter;
        _session = session;
        _readEvent = WintunGetReadWaitEvent(session);
        Name = name;
        Mtu = mtu;
        _logger = logger;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Mtu { get; }

    /// <summary>Creates adapter <paramref name="name"/> and starts a session on it.</summary>
    /// <exception cref="IOException">wintun.dll is missing or the adapter could not be created (needs Administrator).</exception>
    public static WintunDevice Create(string name, int mtu, ILogger logger)
    {
        nint adapter;
        try
        {
            adapter = WintunCreateAdapter(name, "Gateway", nint.Zero);
        }
        catch (DllNotFoundException)
        {
            throw new IOException("wintun.dll not found: download it from wintun.net and place it next to the gateway executable");
        }

        if (adapter == nint.Zero)
        {
            throw new IOException($"WintunCreateAdapter({name}) failed (error {Marshal.GetLastPInvokeError()}); run as Administrator");
        }

        nint session = WintunStartSession(adapter, RingCapacity);
        if (session == nint.Zero)
        {
            int error = Marshal.GetLastPInvokeError();
            WintunCloseAdapter(adapter);
            throw new IOException($"WintunStartSession failed (error {error})");
        }

        return new WintunDevice(adapter, session, name, mtu, logger);
    }

    /// <inheritdoc/>
    public void Start(IPacketReceiver receiver)
    {
        _thread = new Thread(() => ReadLoop(receiver)) { IsBackground = true, Name = "wintun " + Name };
        _thread.Start();
    }

    /// <inheritdoc/>
    public bool Write(ReadOnlySpan<byte> packet)
    {
        if (_stopping)
        {
            return false;
        }

        byte* buffer = WintunAllocateSendPacket(_session, (uint)packet.Length);
        if (buffer is null)
        {
            return false; // ring full (ERROR_BUFFER_OVERFLOW) or session ending
        }

        packet.CopyTo(new Span<byte>(buffer, packet.Length));
        WintunSendPacket(_session, buffer);
        return true;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _thread?.Join(TimeSpan.FromSeconds(2));
        WintunEndSession(_session);
        WintunCloseAdapter(_adapter);
    }

    private void ReadLoop(IPacketReceiver receiver)
    {
        var batch = new PacketBatch(BatchSize, BatchSize * 65536);
        while (!_stopping)
        {
            batch.Clear();
            while (!batch.IsFull)
            {
                byte* packet = WintunReceivePacket(_session, out uint size);
                if (packet is null)
                {
                    break; // ERROR_NO_MORE_ITEMS: wait on the read event below
                }

                // Every slot has 64 KiB of the arena, so a packet always fits.
                batch.TryAdd(new ReadOnlySpan<byte>(packet, (int)size));
                WintunReleaseReceivePacket(_session, packet);
            }

            if (batch.Count > 0)
            {
                receiver.OnPackets(batch);
                continue;
            }

            // Wake at least every 250 ms so Dispose is noticed.
            WaitForSingleObject(_readEvent, 250);
        }

    }

    [LibraryImport("wintun.dll", SetLastError = true, StringMarshalling = StringMarshalling.Utf16)]
    private static partial nint WintunCreateAdapter(string name, string tunnelType, nint requestedGuid);

    [LibraryImport("wintun.dll")]
    private static partial void WintunCloseAdapter(nint adapter);

    [LibraryImport("wintun.dll", SetLastError = true)]
    private static partial nint WintunStartSession(nint adapter, uint capacity);

    [LibraryImport("wintun.dll")]
    private static partial void WintunEndSession(nint session);

    [LibraryImport("wintun.dll")]
    private static partial nint WintunGetReadWaitEvent(nint session);

    [LibraryImport("wintun.dll", SetLastError = true)]
    private static partial byte* WintunReceivePacket(nint session, out uint packetSize);

    [LibraryImport("wintun.dll")]
    private static partial void WintunReleaseReceivePacket(nint session, byte* packet);

    [LibraryImport("wintun.dll", SetLastError = true)]
    private static partial byte* WintunAllocateSendPacket(nint session, uint packetSize);

    [LibraryImport("wintun.dll")]
    private static partial void WintunSendPacket(nint session, byte* packet);

    [LibraryImport("kernel32.dll")]
    private static partial uint WaitForSingleObject(nint handle, uint milliseconds);
}
