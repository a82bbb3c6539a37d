using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace Gateway.Plugins.DnsDot.Server.Https;

/// <summary>
/// One DoH client connection handed to Kestrel after our own TLS handshake: its transport is the decrypted
/// <see cref="SslStream"/> as a pipe pair, and it carries the TLS features Kestrel looks at to choose HTTP/2 by
/// ALPN (so Kestrel treats it exactly like a connection it accepted and decrypted itself). Kestrel disposes it when
/// it is done with the connection; <see cref="Completed"/> then tells the listener's handler it may return.
/// </summary>
internal sealed class DohConnectionContext : ConnectionContext, ITlsConnectionFeature, ITlsApplicationProtocolFeature, IDuplexPipe
{
    private readonly SslStream _tls;
    private readonly Action _abortConnection;
    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly FeatureCollection _features = new();
    private int _disposed;

    /// <summary>Wraps a handshaken connection.</summary>
    public DohConnectionContext(string id, SslStream tls, EndPoint remote, EndPoint local, Action abortConnection)
    {
        ConnectionId = id;
        _tls = tls;
        _abortConnection = abortConnection;
        RemoteEndPoint = remote;
        LocalEndPoint = local;
        Input = PipeReader.Create(tls, new StreamPipeReaderOptions(leaveOpen: true));
        Output = PipeWriter.Create(tls, new StreamPipeWriterOptions(leaveOpen: true));
        ApplicationProtocol = tls.NegotiatedApplicationProtocol.Protocol;
        _features.Set<ITlsConnectionFeature>(this);
        _features.Set<ITlsApplicationProtocolFeature>(this);
        ConnectionClosed = _closed.Token;
    }

    /// <summary>Completes when Kestrel has finished with the connection (or it was aborted).</summary>
    public Task Completed => _completed.Task;

    /// <inheritdoc/>
    public override string ConnectionId { get; set; }

    /// <inheritdoc/>
    public override IFeatureCollection Features => _features;

    /// <inheritdoc/>
    public override IDictionary<object, object?> Items { get; set; } = new ConnectionItems();

    /// <inheritdoc/>
    public override IDuplexPipe Transport
    {
        get => this;
        set => throw new NotSupportedException();
    }

    /// <inheritdoc/>
    public PipeReader Input { get; }

    /// <inheritdoc/>
    public PipeWriter Output { get; }

    /// <inheritdoc/>
    public ReadOnlyMemory<byte> ApplicationProtocol { get; }

    /// <inheritdoc/>
    public X509Certificate2? ClientCertificate
    {
        get => null;
        set => throw new NotSupportedException();
    }

    /// <inheritdoc/>
    public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult<X509Certificate2?>(null);

    /// <inheritdoc/>
    public override void Abort(ConnectionAbortedException abortReason)
    {
        // Closing the socket ends the pending reads and writes at once.
        _abortConnection();
        Signal();
    }

    /// <inheritdoc/>
    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await Input.CompleteAsync().ConfigureAwait(false);
        await Output.CompleteAsync().ConfigureAwait(false);
        Signal();
        _closed.Dispose();
    }

    private void Signal()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        _completed.TrySetResult();
    }
}
