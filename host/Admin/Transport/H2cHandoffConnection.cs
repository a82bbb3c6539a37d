using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace Gateway.Host.Admin.Transport;

/// <summary>
/// A TCP connection handed to the HTTP/2 endpoint. It shares the socket's pipes but has its own feature layer, so
/// the second Kestrel connection's features do not overwrite the first's; <see cref="Completed"/> finishes when
/// Kestrel disposes it (the HTTP/2 connection ended), which lets the first connection close the socket.
/// </summary>
internal sealed class H2cHandoffConnection : ConnectionContext
{
    private readonly ConnectionContext _inner;
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public H2cHandoffConnection(ConnectionContext inner)
    {
        _inner = inner;
        Features = new FeatureCollection(inner.Features);
    }

    /// <summary>Completes when Kestrel is done with the HTTP/2 connection.</summary>
    public Task Completed => _completed.Task;

    public override string ConnectionId
    {
        get => _inner.ConnectionId;
        set => _inner.ConnectionId = value;
    }

    public override IFeatureCollection Features { get; }

    public override IDictionary<object, object?> Items
    {
        get => _inner.Items;
        set => _inner.Items = value;
    }

    public override IDuplexPipe Transport
    {
        get => _inner.Transport;
        set => _inner.Transport = value;
    }

    public override EndPoint? LocalEndPoint
    {
        get => _inner.LocalEndPoint;
        set => _inner.LocalEndPoint = value;
    }

    public override EndPoint? RemoteEndPoint
    {
        get => _inner.RemoteEndPoint;
        set => _inner.RemoteEndPoint = value;
    }

    public override CancellationToken ConnectionClosed
    {
        get => _inner.ConnectionClosed;
        set => _inner.ConnectionClosed = value;
    }

    public override void Abort(ConnectionAbortedException abortReason) => _inner.Abort(abortReason);

    public override ValueTask DisposeAsync()
    {
        _completed.TrySetResult();
        return ValueTask.CompletedTask;
    }
}
