using System.Runtime.InteropServices;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// Lowers the calling thread's CPU priority for work that must not compete with queries (a start's background
/// compile of rule scripts). .NET ignores <see cref="Thread.Priority"/> on Linux, where a nice value is per thread:
/// setpriority(2) with a thread id changes that thread only, and raising it needs no privilege.
/// </summary>
internal static partial class BackgroundPriority
{
    /// <summary>The nice value of background work (normal is 0, lowest 19).</summary>
    private const int Nice = 10;

    private const int PrioProcess = 0;

    public static void LowerCurrentThread()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            // Best effort: a thread left at normal priority only competes a little more with queries.
            _ = SetPriority(PrioProcess, GetThreadId(), Nice);
        }
        catch (Exception exception) when (exception is DllNotFoundException or EntryPointNotFoundException)
        {
            // A C library without gettid(3) (before glibc 2.30): the thread keeps the process's priority.
        }
    }

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetThreadId();

    [LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, int who, int priority);
}
