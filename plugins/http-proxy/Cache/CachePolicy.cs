namespace Gateway.Plugins.HttpProxy.Cache;

/// <summary>
/// The rules of RFC 9111 for a shared cache: what may be stored (§3), how long it is fresh (§4.2.1,
/// §4.2.2), how old it is (§4.2.3), and whether a stored response may answer a request (§4.2, §5.2.1).
/// Pure functions of their inputs (times in Unix seconds), so each rule is tested on its own.
/// </summary>
internal static class CachePolicy
{
    /// <summary>Status codes cacheable by default, i.e. heuristically (RFC 9110 §15.1).</summary>
    public static bool IsHeuristicallyCacheable(int status) =>
        status is 200 or 203 or 204 or 206 or 300 or 301 or 308 or 404 or 405 or 410 or 414 or 501;

    /// <summary>Why a response may not be stored, or <see cref="StoreVerdict.Store"/> (RFC 9111 §3, §3.5).</summary>
    public static StoreVerdict CanStore(in RequestCacheInfo request, int status, in ResponseCacheInfo response)
    {
        if (!request.IsGet)
        {
            return StoreVerdict.Method;
        }

        if (request.HasRange || status == 206)
        {
            // Partial content is passed through (RFC 9111 §3.3 combining is not done).
            return StoreVerdict.Partial;
        }

        if (status is < 200 or 304)
        {
            return StoreVerdict.Status;
        }

        if (request.Directives.NoStore || response.Directives.NoStore)
        {
            return StoreVerdict.NoStore;
        }

        if (response.Directives.Private)
        {
            return StoreVerdict.Private;
        }

        if (request.HasAuthorization && !response.Directives.Public && response.Directives.SharedMaxAge < 0 && !response.Directives.MustRevalidate)
        {
            return StoreVerdict.Authorization;
        }

        if (response.VaryStar)
        {
            return StoreVerdict.VaryStar;
        }

        if (response.HasSetCookie)
        {
            return StoreVerdict.SetCookie;
        }

        bool explicitFreshness = response.Directives.Public || response.Directives.MaxAge >= 0 || response.Directives.SharedMaxAge >= 0 ||
                                 response.Expires >= 0 || response.ExpiresInvalid;
        if (!explicitFreshness && !IsHeuristicallyCacheable(status))
        {
            return StoreVerdict.Status;
        }

        return StoreVerdict.Store;
    }

    /// <summary>
    /// The freshness lifetime in seconds (RFC 9111 §4.2.1): s-maxage, else max-age, else Expires − Date, else
    /// the heuristic 10 % of (Date − Last-Modified) capped by <paramref name="heuristicMax"/> (§4.2.2), else 0.
    /// A response with no-cache is always stale (it must be validated before each use, §5.2.2.4).
    /// </summary>
    public static long FreshnessLifetime(in ResponseCacheInfo response, int status, long responseTime, long heuristicMax)
    {
        if (response.Directives.NoCache)
        {
            return 0;
        }

        if (response.Directives.SharedMaxAge >= 0)
        {
            return response.Directives.SharedMaxAge;
        }

        if (response.Directives.MaxAge >= 0)
        {
            return response.Directives.MaxAge;
        }

        long date = response.Date >= 0 ? response.Date : responseTime;
        if (response.ExpiresInvalid)
        {
            return 0;
        }

        if (response.Expires >= 0)
        {
            return Math.Max(0, response.Expires - date);
        }

        if (response.LastModified >= 0 && (IsHeuristicallyCacheable(status) || response.Directives.Public))
        {
            return Math.Min(Math.Max(0, (date - response.LastModified) / 10), heuristicMax);
        }

        return 0;
    }

    /// <summary>corrected_initial_age of RFC 9111 §4.2.3, in seconds.</summary>
    public static long CorrectedInitialAge(in ResponseCacheInfo response, long requestTime, long responseTime)
    {
        long apparentAge = response.Date >= 0 ? Math.Max(0, responseTime - response.Date) : 0;
        long responseDelay = Math.Max(0, responseTime - requestTime);
        long correctedAgeValue = response.Age + responseDelay;
        return Math.Max(apparentAge, correctedAgeValue);
    }

    /// <summary>
    /// Whether a stored response of <paramref name="currentAgeMs"/> with <paramref name="lifetimeSeconds"/> may
    /// answer a request with <paramref name="request"/>'s directives without validation (RFC 9111 §4.2, §5.2.1).
    /// </summary>
    public static bool MayServeWithoutValidation(long currentAgeMs, long lifetimeSeconds, bool mustRevalidate, in RequestCacheInfo request)
    {
        if (request.RequiresValidation)
        {
            return false;
        }

        long lifetimeMs = lifetimeSeconds * 1000;
        CacheDirectives directives = request.Directives;
        if (directives.MaxAge > 0 && currentAgeMs > directives.MaxAge * 1000L)
        {
            return false;
        }

        if (directives.MinFresh >= 0 && lifetimeMs - currentAgeMs < directives.MinFresh * 1000L)
        {
            return false;
        }

        if (lifetimeMs > currentAgeMs)
        {
            return true;
        }

        // §5.2.1.2 max-stale, unless the response forbids serving it stale (§5.2.2.2, §5.2.2.8, s-maxage).
        return directives.MaxStale >= 0 && !mustRevalidate && currentAgeMs - lifetimeMs <= directives.MaxStale * 1000L;
    }
}
