namespace Gateway.Host.Tun;

/// <summary>Writes one TUN frame (a <see cref="VirtioNetHeader"/> followed by its packet) to the device in one write(2).</summary>
internal interface ITunFrameWriter
{
    /// <summary>Writes <paramref name="frame"/>; false when the device refused it (closed, queue full).</summary>
    bool WriteFrame(ReadOnlySpan<byte> frame);
}
