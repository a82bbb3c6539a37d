using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>
/// The cache key of a request (RFC 9111 §2: the target URI): host in lower case, ':', port, then the path and
/// query exactly as sent ("/" when empty). The scheme is always http (https goes through CONNECT), so it
/// is left out. Written into a caller's char buffer, so a lookup allocates nothing.
/// </summary>
internal static class CacheKey
{
    /// <summary>Longest key cached; requests with longer URIs are passed through.</summary>
    public const int MaxLength = 2048;

    /// <summary>Writes the key of <paramref name="target"/>; -1 when it is longer than <see cref="MaxLength"/>.</summary>
    public static int Write(ReadOnlySpan<byte> target, in ProxyTarget parsed, Span<char> destination)
    {
        ReadOnlySpan<byte> host = parsed.Host(target);
        ReadOnlySpan<byte> path = parsed.PathStart < 0 ? "/"u8 : target[parsed.PathStart..];
        bool slash = parsed.PathStart >= 0 && path[0] == (byte)'?';
        int length = host.Length + 6 + path.Length + (slash ? 1 : 0);
        if (length > MaxLength || length > destination.Length)
        {
            return -1;
        }

        int position = 0;
        foreach (byte b in host)
        {
            destination[position++] = (char)(b is >= (byte)'A' and <= (byte)'Z' ? b + 32 : b);
        }

        destination[position++] = ':';
        parsed.Port.TryFormat(destination[position..], out int written);
        position += written;
        if (slash)
        {
            destination[position++] = '/';
        }

        foreach (byte b in path)
        {
            destination[position++] = (char)b;
        }

        return position;
    }
}
