using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Gateway.Sdk.Networking;

namespace Gateway.Host.Tun;

/// <summary>
/// A NETLINK_ROUTE socket (rtnetlink(7)) for configuring the TUN: link MTU and up, addresses, routes and
/// the fwmark policy rule — what <c>ip link/addr/route/rule</c> would do, without running them. Requests
/// are acknowledged one at a time (NLM_F_ACK); an error reply becomes an <see cref="IOException"/> with the errno.
/// </summary>
internal sealed unsafe class RtNetlink : IDisposable
{
    private const ushort RtmNewLink = 16;
    private const ushort RtmNewAddr = 20;
    private const ushort RtmDelAddr = 21;
    private const ushort RtmNewRoute = 24;
    private const ushort RtmDelRoute = 25;
    private const ushort RtmNewRule = 32;
    private const ushort RtmDelRule = 33;
    private const ushort NlmsgError = 2;
    private const ushort NlmFRequest = 0x1;
    private const ushort NlmFAck = 0x4;
    private const ushort NlmFExcl = 0x200;
    private const ushort NlmFCreate = 0x400;
    private const byte AfInet = 2;
    private const byte AfInet6 = 10;
    private const int EExist = 17;

    private readonly object _lock = new();
    private readonly int _fd;
    private uint _sequence;

    /// <summary>Opens a NETLINK_ROUTE socket in the calling thread's network namespace.</summary>
    public RtNetlink()
    {
        _fd = LinuxNative.Socket(LinuxNative.AfNetlink, LinuxNative.SockRaw | LinuxNative.SockCloExec, LinuxNative.NetlinkRoute);
        if (_fd < 0)
        {
            throw new IOException($"cannot open a NETLINK_ROUTE socket (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    /// <summary>
    /// The TUN's transmit queue: packets the kernel holds for the gateway to read. Linux gives a TUN 500, about 80 ms
    /// at 6,000 packets/s; a reader held up longer (a busy core, a collection) loses the rest (tx_dropped): the soak
    /// (scripts/soak.sh) lost DNS queries and WireGuard pings this way. 5,000 holds close to a second of that load and
    /// costs memory only for packets actually queued.
    /// </summary>
    public const uint TxQueueLength = 5000;

    /// <summary>Sets the MTU and the transmit queue length, and brings the link up (RTM_NEWLINK, IFF_UP, IFLA_MTU, IFLA_TXQLEN).</summary>
    public void SetLinkUp(int index, int mtu)
    {
        var m = new Message(RtmNewLink, NlmFRequest | NlmFAck);
        Span<byte> ifinfo = m.Reserve(16);
        ifinfo[0] = 0; // AF_UNSPEC
        BinaryPrimitives.WriteInt32LittleEndian(ifinfo[4..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(ifinfo[8..], 1); // ifi_flags: IFF_UP
        BinaryPrimitives.WriteUInt32LittleEndian(ifinfo[12..], 1); // ifi_change: IFF_UP
        m.AddU32(4, (uint)mtu); // IFLA_MTU
        m.AddU32(13, TxQueueLength); // IFLA_TXQLEN
        Execute(m, ignoreExists: false);
    }

    /// <summary>Adds an interface address (RTM_NEWADDR); IPv6 addresses skip duplicate address detection (IFA_F_NODAD).</summary>
    public void AddAddress(int index, NetAddress address, int prefixLength) =>
        Execute(AddressMessage(RtmNewAddr, NlmFRequest | NlmFAck | NlmFCreate | NlmFExcl, index, address, prefixLength), ignoreExists: true);

    /// <summary>Removes an interface address (RTM_DELADDR).</summary>
    public void DeleteAddress(int index, NetAddress address, int prefixLength) =>
        Execute(AddressMessage(RtmDelAddr, NlmFRequest | NlmFAck, index, address, prefixLength), ignoreExists: false);

    /// <summary>Adds a route for <paramref name="prefix"/> out of interface <paramref name="index"/> in <paramref name="table"/> (RTM_NEWROUTE).</summary>
    public void AddRoute(int index, IpPrefix prefix, uint table) =>
        Execute(RouteMessage(RtmNewRoute, NlmFRequest | NlmFAck | NlmFCreate | NlmFExcl, index, prefix, table), ignoreExists: true);

    /// <summary>Removes a route (RTM_DELROUTE).</summary>
    public void DeleteRoute(int index, IpPrefix prefix, uint table) =>
        Execute(RouteMessage(RtmDelRoute, NlmFRequest | NlmFAck, index, prefix, table), ignoreExists: false);

    /// <summary>
    /// Adds "not fwmark <paramref name="mark"/> lookup <paramref name="table"/>" (RTM_NEWRULE with FIB_RULE_INVERT),
    /// as wg-quick does: unmarked traffic sees the gateway's routes, marked (protected) sockets skip them.
    /// </summary>
    public void AddRule(bool v6, uint mark, uint table, uint priority) =>
        Execute(RuleMessage(RtmNewRule, NlmFRequest | NlmFAck | NlmFCreate | NlmFExcl, v6, mark, table, priority), ignoreExists: true);

    /// <summary>Removes the rule added by <see cref="AddRule"/>.</summary>
    public void DeleteRule(bool v6, uint mark, uint table, uint priority) =>
        Execute(RuleMessage(RtmDelRule, NlmFRequest | NlmFAck, v6, mark, table, priority), ignoreExists: false);

    /// <inheritdoc/>
    public void Dispose() => LinuxNative.Close(_fd);

    private static Message AddressMessage(ushort type, ushort flags, int index, NetAddress address, int prefixLength)
    {
        var m = new Message(type, flags);
        Span<byte> ifaddr = m.Reserve(8);
        ifaddr[0] = address.IsV6 ? AfInet6 : AfInet;
        ifaddr[1] = (byte)prefixLength;
        ifaddr[2] = (byte)(address.IsV6 ? 0x02 : 0); // IFA_F_NODAD: usable at once, no tentative state
        ifaddr[3] = 0; // RT_SCOPE_UNIVERSE
        BinaryPrimitives.WriteInt32LittleEndian(ifaddr[4..], index);
        Span<byte> bytes = stackalloc byte[16];
        address.WriteTo(bytes);
        m.Add(2, bytes[..address.ByteLength]); // IFA_LOCAL
        m.Add(1, bytes[..address.ByteLength]); // IFA_ADDRESS
        return m;
    }

    private static Message RouteMessage(ushort type, ushort flags, int index, IpPrefix prefix, uint table)
    {
        var m = new Message(type, flags);
        Span<byte> rtmsg = m.Reserve(12);
        rtmsg[0] = prefix.Network.IsV6 ? AfInet6 : AfInet;
        rtmsg[1] = (byte)prefix.Length;
        rtmsg[4] = table < 256 ? (byte)table : (byte)252; // RT_TABLE_COMPAT; the real id goes in RTA_TABLE
        rtmsg[5] = 4; // RTPROT_STATIC
        rtmsg[6] = 253; // RT_SCOPE_LINK: directly on the TUN, no gateway
        rtmsg[7] = 1; // RTN_UNICAST
        Span<byte> bytes = stackalloc byte[16];
        prefix.Network.WriteTo(bytes);
        m.Add(1, bytes[..prefix.Network.ByteLength]); // RTA_DST
        m.AddU32(4, (uint)index); // RTA_OIF
        m.AddU32(15, table); // RTA_TABLE
        return m;
    }

    private static Message RuleMessage(ushort type, ushort flags, bool v6, uint mark, uint table, uint priority)
    {
        var m = new Message(type, flags);
        Span<byte> rule = m.Reserve(12);
        rule[0] = v6 ? AfInet6 : AfInet;
        rule[4] = table < 256 ? (byte)table : (byte)252;
        rule[7] = 1; // FR_ACT_TO_TBL
        BinaryPrimitives.WriteUInt32LittleEndian(rule[8..], 0x2); // FIB_RULE_INVERT: "not fwmark"
        m.AddU32(6, priority); // FRA_PRIORITY
        m.AddU32(10, mark); // FRA_FWMARK
        m.AddU32(16, 0xFFFFFFFF); // FRA_FWMASK
        m.AddU32(15, table); // FRA_TABLE
        return m;
    }

    private void Execute(Message message, bool ignoreExists)
    {
        lock (_lock)
        {
            uint sequence = ++_sequence;
            byte[] request = message.Finish(sequence);
            fixed (byte* p = request)
            {
                if (LinuxNative.Send(_fd, p, (nuint)request.Length, 0) < 0)
                {
                    throw new IOException($"rtnetlink send failed (errno {Marshal.GetLastPInvokeError()})");
                }
            }

            byte* reply = stackalloc byte[8192];
            while (true)
            {
                nint n = LinuxNative.Recv(_fd, reply, 8192, 0);
                if (n < 0)
                {
                    throw new IOException($"rtnetlink receive failed (errno {Marshal.GetLastPInvokeError()})");
                }

                var span = new ReadOnlySpan<byte>(reply, (int)n);
                while (span.Length >= 16)
                {
                    int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(span);
                    ushort type = BinaryPrimitives.ReadUInt16LittleEndian(span[4..]);
                    uint seq = BinaryPrimitives.ReadUInt32LittleEndian(span[8..]);
                    if (length < 16 || length > span.Length)
                    {
                        break;
                    }

                    if (type == NlmsgError && seq == sequence)
                    {
                        int error = -BinaryPrimitives.ReadInt32LittleEndian(span[16..]);
                        if (error == 0 || (ignoreExists && error == EExist))
                        {
                            return;
                        }

                        throw new IOException($"rtnetlink request {message.Type} failed: errno {error}");
                    }

                    span = span[((length + 3) & ~3)..];
                }
            }
        }
    }

    /// <summary>A request being assembled: header, fixed part, then attributes (each 4-byte aligned).</summary>
    private sealed class Message(ushort type, ushort flags)
    {
        private readonly byte[] _buffer = new byte[512];
        private int _length = 16;

        public ushort Type { get; } = type;

        public Span<byte> Reserve(int length)
        {
            Span<byte> span = _buffer.AsSpan(_length, length);
            span.Clear();
            _length += (length + 3) & ~3;
            return span;
        }

        public void Add(ushort attribute, ReadOnlySpan<byte> value)
        {
            Span<byte> header = Reserve(4 + value.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)(4 + value.Length));
            BinaryPrimitives.WriteUInt16LittleEndian(header[2..], attribute);
            value.CopyTo(header[4..]);
        }

        public void AddU32(ushort attribute, uint value)
        {
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
            Add(attribute, bytes);
        }

        public byte[] Finish(uint sequence)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)_length);
            BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(4), Type);
            BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(6), flags);
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(8), sequence);
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(12), 0);
            return _buffer[.._length];
        }
    }
}
