using System.Runtime;
using System.Runtime.InteropServices;

namespace Gateway.Host.Plugins;

/// <summary>
/// Hands memory a plugin swap freed back to the OS, after the old version's unload was verified. Without it RSS kept
/// the high-water mark of every swap (the soak: steps of 6–15 MiB at each swap, +22.6 % over 10 minutes).
/// </summary>
internal static partial class FreedMemory
{
    private static bool s_noMallocTrim = !OperatingSystem.IsLinux();

    /// <summary>
    /// One blocking, compacting, aggressive full collection (the large object heap included), so the heap left by the
    /// overlap of two versions is compacted and its segments decommitted; then glibc's <c>malloc_trim</c>, which returns
    /// the free pages of the native heap (the runtime's and the old version's native allocations) that <c>free</c>
    /// keeps. A swap is rare; the pause is milliseconds on this heap.
    /// </summary>
    /// <returns>The GC heap size and the committed bytes after the collection.</returns>
    public static (long HeapBytes, long CommittedBytes) Return()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        if (!s_noMallocTrim)
        {
            try
            {
                _ = MallocTrim(0);
            }
            catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
            {
                // Not glibc (musl has no malloc_trim): the collection above is all there is.
                s_noMallocTrim = true;
            }
        }

        GCMemoryInfo info = GC.GetGCMemoryInfo(GCKind.Any);
        return (info.HeapSizeBytes, info.TotalCommittedBytes);
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
