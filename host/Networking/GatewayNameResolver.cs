using System.Net;
using System.Net.Sockets;
using Gateway.Sdk.Networking;

namespace Gateway.Host.Networking;

/// <summary>
/// The resolver every plugin sees as <see cref="Gateway.Sdk.Plugins.IPluginContext.NameResolver"/>: the newest one a
/// plugin provided that is still registered, else the system resolver. Providers come and go with their plugins.
/// </summary>
internal sealed class GatewayNameResolver : INameResolver
{
    private readonly object _lock = new();
    private readonly List<Provider> _providers = [];
    private volatile INameResolver _current = SystemNameResolver.Instance;

    /// <summary>The resolver in use now.</summary>
    public INameResolver Current => _current;

    /// <summary>Registers a provider; disposing the result removes it (the previous one, or the system resolver, takes over).</summary>
    public IDisposable Provide(INameResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        var provider = new Provider(this, resolver);
        lock (_lock)
        {
            _providers.Add(provider);
            _current = resolver;
        }

        return provider;
    }

    public ValueTask<IReadOnlyList<IPAddress>> ResolveAsync(string host, AddressFamily family, CancellationToken cancellationToken) =>
        _current.ResolveAsync(host, family, cancellationToken);

    private void Remove(Provider provider)
    {
        lock (_lock)
        {
            _providers.Remove(provider);
            _current = _providers.Count > 0 ? _providers[^1].Resolver : SystemNameResolver.Instance;
        }
    }

    private sealed class Provider(GatewayNameResolver owner, INameResolver resolver) : IDisposable
    {
        private int _disposed;

        public INameResolver Resolver { get; } = resolver;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Remove(this);
            }
        }
    }
}
