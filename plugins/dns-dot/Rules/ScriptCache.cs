using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// Compiled rule scripts kept on disk between runs (issue 21, start-up and idle memory): a start whose scripts did
/// not change loads the images Roslyn emitted last time and never loads Roslyn, which otherwise costs 5–15 s of CPU
/// on a cold start and leaves its JIT-compiled code in the process. One file per script, named by its key: a
/// SHA-256 of everything that determines the emitted image (<see cref="ScriptCompiler"/> builds it: the script's
/// path and text, the compiler's files, the referenced assemblies' MVIDs, the framework, the imports).
/// </summary>
/// <remarks>
/// The images are code the gateway runs, so an entry is used only when it is exactly what was written: the file
/// repeats its key and carries a SHA-256 of its contents, and it and its folder must pass the same ownership and
/// mode checks as a rule script (<see cref="Gateway.Sdk.Security.FileTrust.CheckCodePath"/>). Anything else (a
/// truncated, corrupt, foreign or group-writable entry) is ignored: the script is compiled again and the entry
/// rewritten. Entries are written to a temporary file and renamed into place, owner-only (0600 in a 0700 folder),
/// so a reader sees a whole entry or none. Only scripts that compiled without errors are kept, so errors always
/// come from the compiler.
/// </remarks>
internal sealed class ScriptCache
{
    /// <summary>The most entries kept; the oldest are deleted beyond it when an entry is written.</summary>
    internal const int MaxEntries = 256;

    /// <summary>An entry larger than this is not read (nor written): a script's image is a few KB.</summary>
    private const int MaxEntryBytes = 32 << 20;

    private const string Extension = ".rules";
    private const int KeyBytes = SHA256.HashSizeInBytes;
    private const int HeaderBytes = 8 + KeyBytes + KeyBytes;

    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The cache's name inside dns-dot's state folder (<c>stateDirectory</c>).</summary>
    public const string FolderName = "rules-cache";

    /// <summary>The first bytes of every entry, with the format's version.</summary>
    private static ReadOnlySpan<byte> Magic => "GWRULE01"u8;

    /// <summary>Creates a cache over <paramref name="directory"/> (created on the first write).</summary>
    public ScriptCache(string directory)
    {
        Directory = Path.GetFullPath(directory);
    }

    /// <summary>The folder holding the entries.</summary>
    public string Directory { get; }

    /// <summary>The cache in dns-dot's state folder (<c>stateDirectory</c>, resolved as the list copies are).</summary>
    public static ScriptCache InStateDirectory(string? configured, string configDirectory) =>
        new(Path.Combine(Lists.StateDirectory.Resolve(configured, configDirectory), FolderName));

    /// <summary>The key of one script: SHA-256 over <paramref name="inputs"/> (everything but the script), its path and its text.</summary>
    public static byte[] Key(string inputs, string path, string code)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[8];
        foreach (string part in (ReadOnlySpan<string>)[inputs, path, code])
        {
            byte[] bytes = Encoding.UTF8.GetBytes(part);
            BinaryPrimitives.WriteInt64LittleEndian(length, bytes.LongLength);
            hash.AppendData(length);
            hash.AppendData(bytes);
        }

        return hash.GetHashAndReset();
    }

    /// <summary>The entry's file for <paramref name="key"/>.</summary>
    public string PathOf(ReadOnlySpan<byte> key) => Path.Combine(Directory, Convert.ToHexStringLower(key) + Extension);

    /// <summary>
    /// The script emitted for <paramref name="key"/>, or null when there is no usable entry; <paramref name="problem"/>
    /// then says why an entry that exists was not used (null when there was none).
    /// </summary>
    public ScriptCompiler.Emitted? TryRead(byte[] key, out string? problem)
    {
        problem = null;
        string path = PathOf(key);
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                return null;
            }

            if (info.Length is < HeaderBytes or > MaxEntryBytes)
            {
                problem = $"{path}: {info.Length} bytes is not an entry; compiling again";
                return null;
            }

            if (Gateway.Sdk.Security.FileTrust.CheckCodePath(path) is { } untrusted)
            {
                problem = $"{path} {untrusted}; not used, compiling again";
                return null;
            }

            bytes = File.ReadAllBytes(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            problem = $"{path}: {exception.Message}";
            return null;
        }

        ScriptCompiler.Emitted? emitted = Decode(bytes, key);
        if (emitted is null)
        {
            problem = $"{path} is corrupt or not this script's; compiling again";
            return null;
        }

        try
        {
            // Pruning deletes the least recently written entries: an entry in use is marked as recent.
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // A read-only cache still serves; only its pruning order is off.
        }

        return emitted;
    }

    /// <summary>Writes the entry for <paramref name="key"/> (temporary file, then rename); false with the reason when it could not.</summary>
    public bool TryWrite(byte[] key, ScriptCompiler.Emitted emitted, out string? problem)
    {
        problem = null;
        byte[] bytes = Encode(key, emitted);
        if (bytes.Length > MaxEntryBytes)
        {
            return true;
        }

        string path = PathOf(key);
        string temporary = Path.Combine(Directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Random.Shared.Next():x8}.tmp");
        try
        {
            if (OperatingSystem.IsWindows())
            {
                System.IO.Directory.CreateDirectory(Directory);
            }
            else
            {
                System.IO.Directory.CreateDirectory(Directory, OwnerOnlyFolder);
            }

            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = OwnerOnlyFile;
            }

            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            Prune();
            return true;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            problem = $"cannot write {path}: {exception.Message}";
            TryDelete(temporary);
            return false;
        }
    }

    /// <summary>
    /// Entry layout: magic, key, SHA-256 of the rest; then a flags byte (1 = empty script), and the entry type, entry
    /// method, image and PDB, each as a little-endian int32 length (−1 for none) and its bytes (names in UTF-8).
    /// </summary>
    internal static byte[] Encode(byte[] key, ScriptCompiler.Emitted emitted)
    {
        byte[]? type = emitted.EntryType is null ? null : Encoding.UTF8.GetBytes(emitted.EntryType);
        byte[]? method = emitted.EntryMethod is null ? null : Encoding.UTF8.GetBytes(emitted.EntryMethod);
        int payload = 1 + Field(type) + Field(method) + Field(emitted.Image) + Field(emitted.Pdb);
        byte[] bytes = new byte[HeaderBytes + payload];
        Magic.CopyTo(bytes);
        key.CopyTo(bytes, Magic.Length);
        Span<byte> body = bytes.AsSpan(HeaderBytes);
        body[0] = emitted.Empty ? (byte)1 : (byte)0;
        int offset = 1;
        foreach (byte[]? field in (ReadOnlySpan<byte[]?>)[type, method, emitted.Image, emitted.Pdb])
        {
            BinaryPrimitives.WriteInt32LittleEndian(body[offset..], field?.Length ?? -1);
            offset += 4;
            field?.CopyTo(body[offset..]);
            offset += field?.Length ?? 0;
        }

        SHA256.HashData(body, bytes.AsSpan(Magic.Length + KeyBytes, KeyBytes));
        return bytes;

        static int Field(byte[]? field) => 4 + (field?.Length ?? 0);
    }

    /// <summary>The entry in <paramref name="bytes"/> when it is whole and for <paramref name="key"/>; else null.</summary>
    internal static ScriptCompiler.Emitted? Decode(byte[] bytes, byte[] key)
    {
        if (bytes.Length < HeaderBytes + 1 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic) || !bytes.AsSpan(Magic.Length, KeyBytes).SequenceEqual(key))
        {
            return null;
        }

        ReadOnlySpan<byte> body = bytes.AsSpan(HeaderBytes);
        Span<byte> digest = stackalloc byte[KeyBytes];
        SHA256.HashData(body, digest);
        if (!CryptographicOperations.FixedTimeEquals(digest, bytes.AsSpan(Magic.Length + KeyBytes, KeyBytes)))
        {
            return null;
        }

        bool empty = body[0] == 1;
        int offset = 1;
        var fields = new byte[]?[4];
        for (int i = 0; i < fields.Length; i++)
        {
            if (body.Length - offset < 4)
            {
                return null;
            }

            int length = BinaryPrimitives.ReadInt32LittleEndian(body[offset..]);
            offset += 4;
            if (length < -1 || length > body.Length - offset)
            {
                return null;
            }

            fields[i] = length < 0 ? null : body.Slice(offset, length).ToArray();
            offset += Math.Max(length, 0);
        }

        if (offset != body.Length || (!empty && (fields[0] is null || fields[1] is null || fields[2] is null)))
        {
            return null;
        }

        string? type = fields[0] is { } t ? Encoding.UTF8.GetString(t) : null;
        string? method = fields[1] is { } m ? Encoding.UTF8.GetString(m) : null;
        return new ScriptCompiler.Emitted(empty, fields[2], fields[3], type, method);
    }

    /// <summary>Deletes the oldest entries beyond <see cref="MaxEntries"/> (every edit of a script leaves one behind).</summary>
    private void Prune()
    {
        FileInfo[] entries = new DirectoryInfo(Directory).GetFiles("*" + Extension);
        if (entries.Length <= MaxEntries)
        {
            return;
        }

        Array.Sort(entries, static (a, b) => a.LastWriteTimeUtc.CompareTo(b.LastWriteTimeUtc));
        for (int i = 0; i < entries.Length - MaxEntries; i++)
        {
            TryDelete(entries[i].FullName);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // Left for the next prune: a stale entry is never used (its key is in its name and its contents).
        }
    }
}
