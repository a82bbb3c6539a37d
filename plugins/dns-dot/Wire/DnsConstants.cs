namespace Gateway.Plugins.DnsDot.Wire;

/// <summary>DNS wire-format numbers (RFC 1035 §4.1, RFC 6891, IANA registries).</summary>
internal static class DnsConstants
{
    /// <summary>Size of the fixed message header (RFC 1035 §4.1.1).</summary>
    public const int HeaderSize = 12;

    /// <summary>Largest name in wire form, including the root label (RFC 1035 §2.3.4).</summary>
    public const int MaxNameLength = 255;

    /// <summary>Largest presentation form of a name: every byte escaped as \DDD.</summary>
    public const int MaxPresentationLength = 1024;

    /// <summary>UDP payload size we advertise and cap UDP answers at (DNS flag day 2020).</summary>
    public const int DefaultUdpPayloadSize = 1232;

    /// <summary>Classic UDP limit without EDNS (RFC 1035 §4.2.1).</summary>
    public const int ClassicUdpSize = 512;

    public const ushort FlagQr = 0x8000;
    public const ushort FlagAa = 0x0400;
    public const ushort FlagTc = 0x0200;
    public const ushort FlagRd = 0x0100;
    public const ushort FlagRa = 0x0080;
    public const ushort FlagAd = 0x0020;
    public const ushort FlagCd = 0x0010;
    public const ushort OpcodeMask = 0x7800;
    public const ushort RcodeMask = 0x000F;

    public const int RcodeNoError = 0;
    public const int RcodeFormErr = 1;
    public const int RcodeServFail = 2;
    public const int RcodeNxDomain = 3;
    public const int RcodeNotImp = 4;
    public const int RcodeRefused = 5;

    /// <summary>BADVERS (RFC 6891 §9): 16, i.e. header RCODE 0 and extended RCODE 1 in the OPT.</summary>
    public const int RcodeBadVers = 16;

    public const ushort TypeA = 1;
    public const ushort TypeCname = 5;
    public const ushort TypeSoa = 6;
    public const ushort TypeAaaa = 28;
    public const ushort TypeOpt = 41;
    public const ushort ClassIn = 1;

    /// <summary>EDNS DO bit inside the OPT TTL field (RFC 3225).</summary>
    public const uint EdnsDoBit = 0x8000;

    public const ushort OptionClientSubnet = 8;
    public const ushort OptionCookie = 10;
    public const ushort OptionTcpKeepalive = 11;
    public const ushort OptionPadding = 12;

    /// <summary>RFC 8467 §4.1: queries are padded to a multiple of 128 octets.</summary>
    public const int QueryPaddingBlock = 128;
}
