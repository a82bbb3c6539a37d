using System.Net;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// A local HTTP/1.1 origin on a free loopback port (the BCL's HttpListener, which keeps connections alive):
/// accepts requests until disposed and hands each to <see cref="ServeAsync"/> on its own task.
/// </summary>
internal abstract class HttpListenerOrigin : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();

    protected HttpListenerOrigin()
    {
        Port = TestOrigin.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = LoopAsync();
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Cancelled when the origin is disposed (for handlers that wait).</summary>
    protected CancellationToken Stopping => _stop.Token;

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Close();
        await _loop;
        _stop.Dispose();
    }

    /// <summary>Answers one request.</summary>
    protected abstract Task ServeAsync(HttpListenerContext context);

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(context));
        }
    }
}
