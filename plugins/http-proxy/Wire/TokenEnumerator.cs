namespace Gateway.Plugins.HttpProxy.Wire;

/// <summary>Enumerates the elements of a comma-separated field value (RFC 9110 §5.6.1), trimmed, skipping empty ones.</summary>
internal ref struct TokenEnumerator
{
    private readonly ReadOnlySpan<byte> _value;
    private int _position;

    public TokenEnumerator(ReadOnlySpan<byte> value)
    {
        _value = value;
        _position = 0;
        Current = default;
    }

    public Range Current { get; private set; }

    public readonly TokenEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        while (_position <= _value.Length)
        {
            int start = _position;
            int comma = _value[start..].IndexOf((byte)',');
            int end = comma < 0 ? _value.Length : start + comma;
            _position = end + 1;
            while (start < end && (_value[start] == (byte)' ' || _value[start] == (byte)'\t'))
            {
                start++;
            }

            int trimmedEnd = end;
            while (trimmedEnd > start && (_value[trimmedEnd - 1] == (byte)' ' || _value[trimmedEnd - 1] == (byte)'\t'))
            {
                trimmedEnd--;
            }

            if (trimmedEnd > start)
            {
                Current = start..trimmedEnd;
                return true;
            }
        }

        return false;
    }
}
