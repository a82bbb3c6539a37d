using System.Runtime.InteropServices;

namespace Gateway.Sdk.Security;

/// <summary>
/// Checks on files the gateway trusts: secrets (private keys, tokens) and code (plugin folders, rule scripts).
/// The rules are ssh's: a private key must not be readable by others, and sshd's <c>StrictModes</c>: what runs as
/// code must not be writable by anyone but its owner, and its owner must be root or the gateway's own user.
/// Each check returns null when the path may be used, or one line saying why not and what to do.
/// </summary>
/// <remarks>On Windows there are no Unix modes: every check passes.</remarks>
public static class FileTrust
{
    private const UnixFileMode GroupOrOtherAccess =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private const UnixFileMode GroupOrOtherWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>
    /// A file holding a secret: refused when group or others have any access to it (as ssh refuses a private key
    /// with mode 0644), or when it is owned by another non-root user.
    /// </summary>
    /// <returns>null when the file may be used; otherwise why not, e.g. "is readable by group or others (mode 0644); run chmod 600 on it".</returns>
    public static string? CheckSecretFile(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        if (!File.Exists(path))
        {
            return "does not exist";
        }

        UnixFileMode mode = File.GetUnixFileMode(path);
        if ((mode & GroupOrOtherAccess) != 0)
        {
            return $"is accessible by group or others (mode {Octal(mode)}); a secret must be private: run chmod 600 on it";
        }

        return CheckOwner(path);
    }

    /// <summary>
    /// A file or folder whose contents run as code in the gateway (a plugin folder, a rule script): refused when
    /// group or others can write it or the folder that holds it (unless that folder has the sticky bit, as /tmp),
    /// or when it or that folder is owned by a user other than root or the gateway's own user.
    /// </summary>
    /// <returns>null when the path may be trusted; otherwise why not, e.g. "is writable by group or others (mode 0666); run chmod go-w on it".</returns>
    public static string? CheckCodePath(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        string full = Path.GetFullPath(path);
        if (!File.Exists(full) && !Directory.Exists(full))
        {
            return "does not exist";
        }

        string? problem = CheckWritable(full, allowSticky: false) ?? CheckOwner(full);
        if (problem is not null)
        {
            return problem;
        }

        string? parent = Path.GetDirectoryName(full.TrimEnd(Path.DirectorySeparatorChar));
        if (parent is null)
        {
            return null;
        }

        problem = CheckWritable(parent, allowSticky: true) ?? CheckOwner(parent);
        return problem is null ? null : $"is in the folder {parent}, which {problem}";
    }

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static string? CheckWritable(string path, bool allowSticky)
    {
        UnixFileMode mode = File.GetUnixFileMode(path);
        if ((mode & GroupOrOtherWrite) == 0 || (allowSticky && (mode & UnixFileMode.StickyBit) != 0))
        {
            return null;
        }

        return $"is writable by group or others (mode {Octal(mode)}); anyone who can write it can run code in the gateway: run chmod go-w on it";
    }

    private static string? CheckOwner(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        uint? owner = Native.OwnerOf(path);
        if (owner is null)
        {
            return null;
        }

        uint self = Native.geteuid();
        return owner == 0 || owner == self ? null : $"is owned by uid {owner}, neither root nor the gateway's user (uid {self}); run chown on it";
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode & 0xFFF, 8).PadLeft(4, '0');

    private static class Native
    {
        private const int AtFdCwd = -100;
        private const uint StatxUid = 0x8;

        [DllImport("libc", SetLastError = true)]
        public static extern uint geteuid();

        [DllImport("libc", SetLastError = true)]
        private static extern unsafe int statx(int dirfd, byte* pathname, int flags, uint mask, byte* statxbuf);

        /// <summary>The file's owner through statx(2), whose layout is the same on every architecture; null when unknown.</summary>
        public static unsafe uint? OwnerOf(string path)
        {
            // struct statx is 256 bytes; stx_uid is the u32 at offset 20.
            byte* buffer = stackalloc byte[256];
            byte[] name = System.Text.Encoding.UTF8.GetBytes(path + "\0");
            fixed (byte* p = name)
            {
                try
                {
                    if (statx(AtFdCwd, p, 0, StatxUid, buffer) != 0)
                    {
                        return null;
                    }
                }
                catch (EntryPointNotFoundException)
                {
                    return null;
                }
            }

            return *(uint*)(buffer + 20);
        }
    }
}
