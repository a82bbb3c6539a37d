namespace Gateway.Plugins.DnsDot.Cache;

/// <summary>The outcome of a cache lookup.</summary>
internal enum CacheLookup
{
    /// <summary>Nothing usable.</summary>
    Miss,

    /// <summary>A fresh answer.</summary>
    Fresh,

    /// <summary>A fresh answer close to expiry that is popular: answer it and refresh it in the background.</summary>
    FreshPrefetch,

    /// <summary>Expired but within the stale age: usable only if no upstream answers (RFC 8767).</summary>
    Stale,
}
