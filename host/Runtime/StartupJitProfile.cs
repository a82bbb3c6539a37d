using System.Runtime;

namespace Gateway.Host.Runtime;

/// <summary>
/// Start-up on more than one core (issue 21's start-up goal): the runtime's multi-core JIT
/// (<see cref="ProfileOptimization"/>) records which methods <c>gateway run</c> compiles while it starts, and on the
/// next start compiles them on a background thread ahead of the main thread, which then mostly finds them ready.
/// Start-up is otherwise one thread, and ~40 % of it is the JIT (the Microsoft.Extensions 11 and System.Text.Json 11
/// packages the host uses are IL only, not precompiled like the shared framework's copies; ReadyToRun for them cost
/// 2–4 MB of idle RSS, see BENCHMARKS.md). The profile is <c>host/run.jitprofile</c> in the gateway's state folder
/// (<see cref="GatewayStateRoot"/>), rewritten by each run at "gateway ready" (<see cref="Stop"/>); a folder the
/// gateway cannot write only turns this off. It covers the host's own load context, not the plugins' (collectible contexts are not profiled).
/// </summary>
internal static class StartupJitProfile
{
    /// <summary>
    /// Starts recording (and, when a profile exists, replaying) for <paramref name="command"/>, in
    /// <paramref name="stateRoot"/> (default: the gateway's state folder). Returns the profile's path, or null when off
    /// (<c>GATEWAY_JIT_PROFILE=0</c>) or when the folder cannot be made.
    /// </summary>
    public static string? Start(string command, string? stateRoot = null)
    {
        if (Environment.GetEnvironmentVariable("GATEWAY_JIT_PROFILE") == "0")
        {
            return null;
        }

        try
        {
            string folder = Path.Combine(stateRoot ?? GatewayStateRoot.Resolve(), "host");
            string name = command + ".jitprofile";
            Directory.CreateDirectory(folder);
            ProfileOptimization.SetProfileRoot(folder);
            ProfileOptimization.StartProfile(name);
            return Path.Combine(folder, name);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No writable state folder: start without the profile.
            return null;
        }
    }

    /// <summary>
    /// Ends the recording at "gateway ready" and writes the profile: it then holds the start-up's methods only, not
    /// those of the hours after it or of the stop (which the next start would otherwise compile ahead for nothing).
    /// </summary>
    public static void Stop() => ProfileOptimization.StartProfile(null);
}
