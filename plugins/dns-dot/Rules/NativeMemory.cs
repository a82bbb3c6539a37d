using System.Runtime.InteropServices;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// Returns freed native heap to the OS after a compile. Roslyn keeps metadata and emit buffers in native memory;
/// once they are freed, glibc keeps the pages in its arenas unless asked, so RSS would stay at the compile's
/// peak (tens of MB) although nothing uses them. malloc_trim(3) is the glibc call for exactly this.
/// </summary>
internal static partial class NativeMemory
{
    public static void Trim()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            _ = MallocTrim(0);
        }
        catch (Exception exception) when (exception is DllNotFoundException or EntryPointNotFoundException)
        {
            // musl and other C libraries have no malloc_trim; their heaps behave differently anyway.
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
