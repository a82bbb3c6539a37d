namespace Gateway.Plugins.WireGuard.Noise;

/// <summary>WireGuard message types and layouts (whitepaper §5.4.2–§5.4.7). All integers are little-endian.</summary>
internal static class MessageFormat
{
    /// <summary>Handshake initiation.</summary>
    public const uint TypeInitiation = 1;

    /// <summary>Handshake response.</summary>
    public const uint TypeResponse = 2;

    /// <summary>Cookie reply.</summary>
    public const uint TypeCookieReply = 3;

    /// <summary>Transport data.</summary>
    public const uint TypeData = 4;

    /// <summary>type(4) sender(4) ephemeral(32) static(32+16) timestamp(12+16) mac1(16) mac2(16).</summary>
    public const int InitiationSize = 148;

    /// <summary>type(4) sender(4) receiver(4) ephemeral(32) empty(0+16) mac1(16) mac2(16).</summary>
    public const int ResponseSize = 92;

    /// <summary>type(4) receiver(4) nonce(24) cookie(16+16).</summary>
    public const int CookieReplySize = 64;

    /// <summary>type(4) receiver(4) counter(8).</summary>
    public const int DataHeaderSize = 16;

    /// <summary>Poly1305 tag.</summary>
    public const int TagSize = 16;

    /// <summary>The smallest data message: a keepalive (header + empty payload's tag).</summary>
    public const int DataMinSize = DataHeaderSize + TagSize;

    /// <summary>Plaintext is padded to a multiple of this (whitepaper §5.4.6).</summary>
    public const int PaddingMultiple = 16;

    /// <summary>Offsets inside the initiation.</summary>
    public const int InitiationSender = 4, InitiationEphemeral = 8, InitiationStatic = 40, InitiationTimestamp = 88, InitiationMac1 = 116, InitiationMac2 = 132;

    /// <summary>Offsets inside the response.</summary>
    public const int ResponseSender = 4, ResponseReceiver = 8, ResponseEphemeral = 12, ResponseEmpty = 44, ResponseMac1 = 60, ResponseMac2 = 76;

    /// <summary>Offsets inside the cookie reply.</summary>
    public const int CookieReceiver = 4, CookieNonce = 8, CookieEncrypted = 32;

    /// <summary>Offsets inside the data message.</summary>
    public const int DataReceiver = 4, DataCounter = 8;

    /// <summary>The padded plaintext length for an IP packet of <paramref name="length"/> bytes under <paramref name="mtu"/>.</summary>
    public static int PaddedLength(int length, int mtu)
    {
        int padded = (length + PaddingMultiple - 1) & ~(PaddingMultiple - 1);
        if (padded > mtu)
        {
            padded = Math.Max(length, mtu);
        }

        return padded;
    }
}
