using SharpFuzz;

namespace Gateway.Fuzz;

/// <summary>
/// <c>Gateway.Fuzz TARGET</c> runs TARGET under afl-fuzz (SharpFuzz's in-process loop: one process, many inputs);
/// <c>Gateway.Fuzz TARGET PATH...</c> replays files or folders of inputs without AFL and says which one fails;
/// <c>Gateway.Fuzz list</c> names the targets.
/// </summary>
public static class FuzzMain
{
    // Larger inputs are cut: every target's interesting structure fits (a DNS message is at most 64 KiB).
    private const int MaxInput = 1 << 16;

    // AFL's coverage map size, as SharpFuzz uses it.
    private const int TraceMapSize = 1 << 16;

    public static int Main(string[] args)
    {
        // The instrumented assemblies write coverage into SharpFuzz's trace map from their first instruction on;
        // under afl-fuzz Fuzzer.Run points it at AFL's shared memory, otherwise (list, replay of a crash with the
        // instrumented build) it must point somewhere, or the first instrumented branch is an access violation.
        unsafe
        {
            SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(TraceMapSize);
        }

        if (args.Length == 0 || args[0] is "list" or "-h" or "--help")
        {
            Console.WriteLine("usage: Gateway.Fuzz TARGET            (under afl-fuzz)");
            Console.WriteLine("       Gateway.Fuzz TARGET PATH...    (replay files or folders)");
            foreach (IFuzzTarget t in FuzzTargets.All)
            {
                Console.WriteLine($"  {t.Name,-14} {t.Description}");
            }

            return args.Length == 0 ? 2 : 0;
        }

        IFuzzTarget? target = FuzzTargets.Find(args[0]);
        if (target is null)
        {
            Console.Error.WriteLine($"unknown target '{args[0]}'; `Gateway.Fuzz list` names them");
            return 2;
        }

        if (args.Length > 1)
        {
            return Replay(target, args.AsSpan(1));
        }

        byte[] buffer = new byte[MaxInput];
        Fuzzer.Run(stream =>
        {
            int length = 0;
            int read;
            while (length < buffer.Length && (read = stream.Read(buffer, length, buffer.Length - length)) > 0)
            {
                length += read;
            }

            target.Run(buffer.AsSpan(0, length));
        });
        return 0;
    }

    private static int Replay(IFuzzTarget target, ReadOnlySpan<string> paths)
    {
        int failed = 0, count = 0;
        foreach (string path in paths)
        {
            IEnumerable<string> files = Directory.Exists(path)
                ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
                : [path];
            foreach (string file in files)
            {
                count++;
                try
                {
                    target.Run(File.ReadAllBytes(file));
                }
                catch (Exception ex)
                {
                    failed++;
                    Console.Error.WriteLine($"{file}: {ex}");
                }
            }
        }

        Console.WriteLine($"{target.Name}: {count} inputs, {failed} failed");
        return failed == 0 ? 0 : 1;
    }
}
