namespace Gateway.Host.Dispatch;

/// <summary>Metric tag values for <see cref="DropReason"/> (snake_case, allocated once).</summary>
internal static class DropReasons
{
    public const int Count = (int)DropReason.WriteFailed + 1;

    private static readonly KeyValuePair<string, object?>[] s_tags = CreateTags();

    /// <summary>The <c>reason</c> tag for a drop reason.</summary>
    public static KeyValuePair<string, object?> Tag(DropReason reason) => s_tags[(int)reason];

    /// <summary>The snake_case name used in metrics.</summary>
    public static string Name(DropReason reason) => reason switch
    {
        DropReason.BadVersion => "bad_version",
        DropReason.BadHeaderLength => "bad_header_length",
        DropReason.BadLength => "bad_length",
        DropReason.Truncated => "truncated",
        DropReason.Fragment => "fragment",
        DropReason.BadTransportHeader => "bad_transport_header",
        DropReason.BadChecksum => "bad_checksum",
        DropReason.NoRoute => "no_route",
        DropReason.Hook => "hook",
        DropReason.Unsupported => "unsupported",
        DropReason.NatUnknown => "nat_unknown",
        DropReason.NatExhausted => "nat_exhausted",
        DropReason.NatSourceLimit => "nat_source_limit",
        DropReason.NoListener => "no_listener",
        DropReason.RateLimited => "rate_limited",
        DropReason.NoErrorReply => "no_error_reply",
        _ => "write_failed",
    };

    private static KeyValuePair<string, object?>[] CreateTags()
    {
        var tags = new KeyValuePair<string, object?>[Count];
        for (int i = 0; i < Count; i++)
        {
            tags[i] = new KeyValuePair<string, object?>("reason", Name((DropReason)i));
        }

        return tags;
    }
}
