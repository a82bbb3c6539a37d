using System.Runtime.InteropServices;

namespace Gateway.EndToEnd.Infrastructure;

/// <summary>
/// Runs code on a dedicated thread that has joined a network namespace (setns(2) with CLONE_NEWNET is
/// per-thread). Sockets, TUN devices and netlink sockets created there belong to that namespace and keep
/// working from any thread afterwards — so an in-process test can put its own sockets inside a namespace it made.
/// </summary>
public static partial class NetnsThread
{
    private const int CloneNewNet = 0x40000000;

    /// <summary>Runs <paramref name="action"/> inside namespace <paramref name="netnsName"/> and returns its result.</summary>
    public static Task<T> RunAsync<T>(string netnsName, Func<T> action)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                // File.OpenHandle, not a FileStream: FileStream asks nsfs files for their position and fails with ESPIPE.
                using Microsoft.Win32.SafeHandles.SafeFileHandle ns = File.OpenHandle($"/var/run/netns/{netnsName}");
                if (SetNs((int)ns.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns({netnsName}) failed: errno {Marshal.GetLastPInvokeError()}");
                }

                done.SetResult(action());
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "netns " + netnsName,
        };
        thread.Start();
        return done.Task;
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
