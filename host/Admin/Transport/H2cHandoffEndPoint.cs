using System.Net;

namespace Gateway.Host.Admin.Transport;

/// <summary>
/// The admin listener's second, in-process Kestrel endpoint: it speaks HTTP/2 only (prior knowledge) and receives
/// the TCP connections whose first bytes are the HTTP/2 preface (<see cref="H2cPrefaceMiddleware"/>).
/// </summary>
internal sealed class H2cHandoffEndPoint : EndPoint
{
    public H2cHandoffEndPoint(EndPoint publicEndPoint)
    {
        PublicEndPoint = publicEndPoint;
    }

    /// <summary>The TCP endpoint whose connections are handed over.</summary>
    public EndPoint PublicEndPoint { get; }

    public override string ToString() => $"h2c-handoff({PublicEndPoint})";
}
