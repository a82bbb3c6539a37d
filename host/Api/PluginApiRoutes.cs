using System.Collections.Concurrent;
using Gateway.Sdk.Api;

namespace Gateway.Host.Api;

/// <summary>
/// The routes plugins map with <see cref="Gateway.Sdk.Plugins.IPluginContext.MapApi"/>: (plugin id, method, path)
/// to handler. The admin listener looks requests under <c>/api/v1/plugins/&lt;id&gt;/</c> up here. Reads take no
/// lock; a plugin's routes come and go with its registrations, the newest mapping of a route is served.
/// </summary>
internal sealed class PluginApiRoutes
{
    private static readonly string[] s_methods = ["GET", "POST", "PUT", "DELETE"];
    private readonly ConcurrentDictionary<RouteKey, Entry> _routes = new();

    // Every live mapping of a route, newest last (the one served). A plugin swap maps the new version's routes over the
    // old's: when the new version fails to start and its registrations go, the old version's routes are served again.
    private readonly Dictionary<RouteKey, List<Entry>> _mappings = new();

    /// <summary>Maps a route; returns the registration that removes it (only if it is still this mapping).</summary>
    /// <exception cref="ArgumentException">An unsupported method or a malformed path.</exception>
    public IDisposable Map(string pluginId, string method, string path, ApiHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        string normalizedMethod = method.ToUpperInvariant();
        if (Array.IndexOf(s_methods, normalizedMethod) < 0)
        {
            throw new ArgumentException($"admin API method '{method}' is not supported; use GET, POST, PUT or DELETE", nameof(method));
        }

        if (!IsValidPath(path))
        {
            throw new ArgumentException($"admin API path '{path}' is not valid: letters, digits, '-', '_', '.' and '/' without a leading '/'", nameof(path));
        }

        var key = new RouteKey(pluginId, normalizedMethod, path);
        var entry = new Entry(handler);
        lock (_mappings)
        {
            if (!_mappings.TryGetValue(key, out List<Entry>? stack))
            {
                _mappings[key] = stack = [];
            }

            stack.Add(entry);
            _routes[key] = entry;
        }

        return new Registration(this, key, entry);
    }

    /// <summary>The handler for the request, or why there is none.</summary>
    public RouteMatch Find(string pluginId, string method, string path)
    {
        if (_routes.TryGetValue(new RouteKey(pluginId, method, path), out Entry? entry))
        {
            return new RouteMatch(entry.Handler, MethodAllowed: true);
        }

        foreach (string other in s_methods)
        {
            if (other != method && _routes.ContainsKey(new RouteKey(pluginId, other, path)))
            {
                return new RouteMatch(null, MethodAllowed: false);
            }
        }

        return new RouteMatch(null, MethodAllowed: true);
    }

    /// <summary>The methods mapped for a path (for 405's Allow header).</summary>
    public IReadOnlyList<string> MethodsFor(string pluginId, string path)
    {
        var methods = new List<string>();
        foreach (string method in s_methods)
        {
            if (_routes.ContainsKey(new RouteKey(pluginId, method, path)))
            {
                methods.Add(method);
            }
        }

        return methods;
    }

    /// <summary>Every route of a plugin as "METHOD path", sorted (for <c>GET /api/v1/plugins</c>).</summary>
    public IReadOnlyList<string> RoutesOf(string pluginId)
    {
        var list = new List<string>();
        foreach (RouteKey key in _routes.Keys)
        {
            if (key.PluginId == pluginId)
            {
                list.Add(key.Method + " " + key.Path);
            }
        }

        list.Sort(StringComparer.Ordinal);
        return list;
    }

    private static bool IsValidPath(string path)
    {
        if (string.IsNullOrEmpty(path) || path[0] == '/' || path.Length > 200 || path.Contains("//", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (char c in path)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/'))
            {
                return false;
            }
        }

        return !path.Split('/').Contains("..");
    }

    private readonly record struct RouteKey(string PluginId, string Method, string Path);

    // A class, not a record: a registration removes its own mapping by reference, never an equal later one.
    private sealed class Entry(ApiHandler handler)
    {
        public ApiHandler Handler { get; } = handler;
    }

    /// <summary>A lookup result: the handler, or null with whether another method exists for the path (405 vs 404).</summary>
    public readonly record struct RouteMatch(ApiHandler? Handler, bool MethodAllowed);

    private sealed class Registration(PluginApiRoutes owner, RouteKey key, Entry entry) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            // Only this mapping: a later MapApi of the same route is served and keeps being served; when this one was
            // served, the latest earlier mapping still alive is served again.
            lock (owner._mappings)
            {
                List<Entry> stack = owner._mappings[key];
                stack.Remove(entry);
                if (stack.Count == 0)
                {
                    owner._mappings.Remove(key);
                    owner._routes.TryRemove(key, out _);
                }
                else
                {
                    owner._routes[key] = stack[^1];
                }
            }
        }
    }
}
