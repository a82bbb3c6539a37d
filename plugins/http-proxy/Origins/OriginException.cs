using System.Net.Sockets;

namespace Gateway.Plugins.HttpProxy.Origins;

/// <summary>
/// The origin could not be reached (502), did not answer in time (504), or may not be reached by this client
/// (403: the destination policy refused every address it resolved to).
/// </summary>
internal sealed class OriginException : Exception
{
    public OriginException(int status, string message, string? deniedBy = null, SocketError error = SocketError.Success)
        : base(message)
    {
        Status = status;
        DeniedBy = deniedBy;
        Error = error;
    }

    /// <summary>The socket error behind a 502 (ConnectionRefused, HostUnreachable, HostNotFound...), for SOCKS reply codes.</summary>
    public SocketError Error { get; }

    /// <summary>502, 504, or 403 for a refused destination.</summary>
    public int Status { get; }

    /// <summary>For a 403: the <c>denyDestinations</c> rule that matched (for the log and the SOCKS reply); null otherwise.</summary>
    public string? DeniedBy { get; }
}
