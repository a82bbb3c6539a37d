using System.Runtime.InteropServices;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace Gateway.Benchmarks;

/// <summary>
/// A BenchmarkDotNet clock that reads the benchmark thread's own CPU time (CLOCK_THREAD_CPUTIME_ID) instead of the
/// wall clock. On this shared 2-core machine other engineers' builds and benchmarks push the load average past 20:
/// wall-clock means then measure mostly time spent waiting for a core (the same benchmark moved 1.8–137 µs between
/// three runs). CPU time counts only the time the thread ran, which is what a primitive costs.
/// </summary>
public sealed partial class ThreadCpuClock : IClock
{
    private const int ClockThreadCpuTimeId = 3;

    /// <inheritdoc/>
    public string Title => "thread CPU time";

    /// <inheritdoc/>
    public bool IsAvailable => OperatingSystem.IsLinux();

    /// <inheritdoc/>
    public Frequency Frequency => Frequency.GHz;

    /// <inheritdoc/>
    public long GetTimestamp()
    {
        ClockGetTime(ClockThreadCpuTimeId, out TimeSpec now);
        return (now.Seconds * 1_000_000_000L) + now.Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}

/// <summary>
/// Short runs in the benchmark process (the thread CPU clock needs the measured thread to be the one that reads it),
/// timed by <see cref="ThreadCpuClock"/>. Use with <c>[Config(typeof(CpuTimeConfig))]</c>.
/// </summary>
public sealed class CpuTimeConfig : ManualConfig
{
    /// <summary>Creates the config.</summary>
    public CpuTimeConfig()
    {
        // In process, a benchmark may take long in wall-clock time when the thread gets a small share of a core.
        var toolchain = new InProcessEmitToolchain(TimeSpan.FromMinutes(30), logOutput: true);
        AddJob(Job.ShortRun.WithClock(new ThreadCpuClock()).WithToolchain(toolchain).WithId("ShortRun-ThreadCpu"));
    }
}
