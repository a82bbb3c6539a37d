using Gateway.Plugins.HttpProxy.Cache;
using static Gateway.Tests.HttpProxy.Cache.CacheTestHeads;

namespace Gateway.Tests.HttpProxy.Cache;

public sealed class CachePolicyTests
{
    // RFC 9110 §5.6.7 example date and offsets from it.
    private const string Date = "Date: Sun, 06 Nov 1994 08:49:37 GMT";
    private const long DateSeconds = 784111777;
    private const long OneHour = 3600;

    private static StoreVerdict CanStore(RequestCacheInfo request, int status, params string[] fields) =>
        CachePolicy.CanStore(request, status, Response(status, fields));

    // ---- §3: storing ---------------------------------------------------------------------------

    [Theory]
    [InlineData(200)]
    [InlineData(203)]
    [InlineData(204)]
    [InlineData(300)]
    [InlineData(301)]
    [InlineData(308)]
    [InlineData(404)]
    [InlineData(405)]
    [InlineData(410)]
    [InlineData(414)]
    [InlineData(501)]
    public void CanStore_CacheableByDefaultStatus_WithoutFreshness_IsStored(int status)
    {
        Assert.Equal(StoreVerdict.Store, CanStore(Request("GET"), status, Date));
    }

    [Theory]
    [InlineData(302)]
    [InlineData(307)]
    [InlineData(400)]
    [InlineData(500)]
    [InlineData(503)]
    public void CanStore_OtherStatus_OnlyWithExplicitFreshness(int status)
    {
        Assert.Equal(StoreVerdict.Status, CanStore(Request("GET"), status, Date));
        Assert.Equal(StoreVerdict.Store, CanStore(Request("GET"), status, Date, "Cache-Control: max-age=60"));
        Assert.Equal(StoreVerdict.Store, CanStore(Request("GET"), status, Date, "Expires: Sun, 06 Nov 1994 09:49:37 GMT"));
    }

    [Fact]
    public void CanStore_NotModified_IsNotStoredAsAResponse()
    {
        Assert.Equal(StoreVerdict.Status, CanStore(Request("GET"), 304, "Cache-Control: max-age=60"));
    }

    [Theory]
    [InlineData("HEAD")]
    [InlineData("POST")]
    [InlineData("PUT")]
    public void CanStore_NotGet_IsNotStored(string method)
    {
        Assert.Equal(StoreVerdict.Method, CanStore(Request(method), 200, "Cache-Control: max-age=60"));
    }

    [Fact]
    public void CanStore_PartialContentOrRangeRequest_PassesThrough()
    {
        Assert.Equal(StoreVerdict.Partial, CanStore(Request("GET"), 206, "Cache-Control: max-age=60"));
        Assert.Equal(StoreVerdict.Partial, CanStore(Request("GET", "Range: bytes=0-9"), 200, "Cache-Control: max-age=60"));
    }

    [Fact]
    public void CanStore_NoStoreInRequestOrResponse_IsNotStored()
    {
        Assert.Equal(StoreVerdict.NoStore, CanStore(Request("GET"), 200, "Cache-Control: no-store, max-age=60"));
        Assert.Equal(StoreVerdict.NoStore, CanStore(Request("GET", "Cache-Control: no-store"), 200, "Cache-Control: max-age=60"));
    }

    [Fact]
    public void CanStore_Private_IsNotStoredBySharedCache()
    {
        Assert.Equal(StoreVerdict.Private, CanStore(Request("GET"), 200, "Cache-Control: private, max-age=60"));
    }

    [Theory]
    [InlineData("Cache-Control: max-age=60", false)]
    [InlineData("Cache-Control: public", true)]
    [InlineData("Cache-Control: s-maxage=60", true)]
    [InlineData("Cache-Control: must-revalidate", true)]
    public void CanStore_RequestWithAuthorization_OnlyWhenResponseAllowsIt(string cacheControl, bool stored)
    {
        // RFC 9111 §3.5.
        Assert.Equal(stored ? StoreVerdict.Store : StoreVerdict.Authorization, CanStore(Request("GET", "Authorization: Basic eDp5"), 200, cacheControl));
    }

    [Fact]
    public void CanStore_VaryStar_IsNotStored()
    {
        Assert.Equal(StoreVerdict.VaryStar, CanStore(Request("GET"), 200, "Cache-Control: max-age=60", "Vary: Accept, *"));
        Assert.Equal(StoreVerdict.Store, CanStore(Request("GET"), 200, "Cache-Control: max-age=60", "Vary: Accept"));
    }

    [Fact]
    public void CanStore_SetCookie_IsNotStored()
    {
        Assert.Equal(StoreVerdict.SetCookie, CanStore(Request("GET"), 200, "Cache-Control: max-age=60", "Set-Cookie: id=1"));
    }

    // ---- §4.2.1: freshness lifetime ------------------------------------------------------------

    private static long Lifetime(params string[] fields) =>
        CachePolicy.FreshnessLifetime(Response(fields), 200, DateSeconds, heuristicMax: OneHour);

    [Fact]
    public void FreshnessLifetime_SMaxAge_BeatsMaxAgeAndExpires()
    {
        Assert.Equal(10, Lifetime(Date, "Cache-Control: max-age=100, s-maxage=10", "Expires: Sun, 06 Nov 1994 09:49:37 GMT"));
    }

    [Fact]
    public void FreshnessLifetime_MaxAge_BeatsExpires()
    {
        Assert.Equal(100, Lifetime(Date, "Cache-Control: max-age=100", "Expires: Sun, 06 Nov 1994 09:49:37 GMT"));
    }

    [Fact]
    public void FreshnessLifetime_Expires_IsExpiresMinusDate()
    {
        Assert.Equal(OneHour, Lifetime(Date, "Expires: Sun, 06 Nov 1994 09:49:37 GMT"));
    }

    [Fact]
    public void FreshnessLifetime_ExpiresWithoutDate_UsesResponseTime()
    {
        Assert.Equal(OneHour, Lifetime("Expires: Sun, 06 Nov 1994 09:49:37 GMT"));
    }

    [Theory]
    [InlineData("Expires: 0")]
    [InlineData("Expires: -1")]
    [InlineData("Expires: Sun, 06 Nov 1994 07:49:37 GMT")]
    public void FreshnessLifetime_InvalidOrPastExpires_IsAlreadyExpired(string expires)
    {
        // RFC 9111 §5.3: an invalid date, especially "0", means a time in the past.
        Assert.Equal(0, Lifetime(Date, expires, "Last-Modified: Sat, 01 Jan 1994 00:00:00 GMT"));
    }

    [Fact]
    public void FreshnessLifetime_Heuristic_IsTenPercentOfDateMinusLastModified()
    {
        // RFC 9111 §4.2.2: Last-Modified 1000 s before Date -> fresh for 100 s.
        Assert.Equal(100, Lifetime(Date, "Last-Modified: Sun, 06 Nov 1994 08:32:57 GMT"));
    }

    [Fact]
    public void FreshnessLifetime_Heuristic_IsCappedByHeuristicMaxAge()
    {
        Assert.Equal(OneHour, Lifetime(Date, "Last-Modified: Sat, 01 Jan 1994 00:00:00 GMT"));
    }

    [Fact]
    public void FreshnessLifetime_HeuristicForStatusNotCacheableByDefault_IsZero()
    {
        Assert.Equal(0, CachePolicy.FreshnessLifetime(Response(302, Date, "Last-Modified: Sun, 06 Nov 1994 08:32:57 GMT"), 302, DateSeconds, OneHour));
    }

    [Fact]
    public void FreshnessLifetime_NoExplicitFreshnessNoLastModified_IsZero()
    {
        Assert.Equal(0, Lifetime(Date, "ETag: \"x\""));
    }

    [Fact]
    public void FreshnessLifetime_NoCache_IsAlwaysStale()
    {
        Assert.Equal(0, Lifetime(Date, "Cache-Control: no-cache, max-age=600"));
    }

    // ---- §4.2.3: age ---------------------------------------------------------------------------

    [Fact]
    public void CorrectedInitialAge_ApparentAgeLarger_IsApparentAge()
    {
        // Date 10 s before the response arrived; Age 5 plus a 2 s response delay = 7 < 10.
        ResponseCacheInfo response = Response(Date, "Age: 5");

        Assert.Equal(10, CachePolicy.CorrectedInitialAge(response, DateSeconds + 8, DateSeconds + 10));
    }

    [Fact]
    public void CorrectedInitialAge_AgeFieldLarger_IsAgePlusResponseDelay()
    {
        ResponseCacheInfo response = Response(Date, "Age: 30");

        Assert.Equal(32, CachePolicy.CorrectedInitialAge(response, DateSeconds - 2, DateSeconds));
    }

    [Fact]
    public void CorrectedInitialAge_DateInTheFuture_IsNotNegative()
    {
        Assert.Equal(0, CachePolicy.CorrectedInitialAge(Response(Date), DateSeconds - 100, DateSeconds - 100));
    }

    // ---- §4.2, §5.2.1: using a stored response -------------------------------------------------

    [Fact]
    public void MayServeWithoutValidation_FreshAndStale()
    {
        RequestCacheInfo get = Request("GET");

        Assert.True(CachePolicy.MayServeWithoutValidation(59_999, 60, false, get));
        Assert.False(CachePolicy.MayServeWithoutValidation(60_000, 60, false, get));
    }

    [Theory]
    [InlineData("Cache-Control: no-cache")]
    [InlineData("Cache-Control: max-age=0")]
    [InlineData("Pragma: no-cache")]
    public void MayServeWithoutValidation_ClientAsksForValidation_IsFalse(string field)
    {
        Assert.False(CachePolicy.MayServeWithoutValidation(0, 600, false, Request("GET", field)));
    }

    [Fact]
    public void MayServeWithoutValidation_PragmaWithCacheControl_PragmaIsIgnored()
    {
        // RFC 9111 §5.4: Pragma is only for requests without Cache-Control.
        Assert.True(CachePolicy.MayServeWithoutValidation(0, 600, false, Request("GET", "Cache-Control: max-age=60", "Pragma: no-cache")));
    }

    [Fact]
    public void MayServeWithoutValidation_RequestMaxAge_LimitsAge()
    {
        RequestCacheInfo request = Request("GET", "Cache-Control: max-age=5");

        Assert.True(CachePolicy.MayServeWithoutValidation(5_000, 600, false, request));
        Assert.False(CachePolicy.MayServeWithoutValidation(5_001, 600, false, request));
    }

    [Fact]
    public void MayServeWithoutValidation_MinFresh_NeedsThatMuchFreshnessLeft()
    {
        RequestCacheInfo request = Request("GET", "Cache-Control: min-fresh=100");

        Assert.True(CachePolicy.MayServeWithoutValidation(500_000, 600, false, request));
        Assert.False(CachePolicy.MayServeWithoutValidation(500_001, 600, false, request));
    }

    [Fact]
    public void MayServeWithoutValidation_MaxStale_AllowsStaleUnlessMustRevalidate()
    {
        RequestCacheInfo request = Request("GET", "Cache-Control: max-stale=30");

        Assert.True(CachePolicy.MayServeWithoutValidation(80_000, 60, false, request));
        Assert.False(CachePolicy.MayServeWithoutValidation(91_000, 60, false, request));
        Assert.False(CachePolicy.MayServeWithoutValidation(80_000, 60, true, request));
    }

    [Fact]
    public void RequestCacheInfo_RangeConditionalOrAuthorization_DoNotUseStoredResponses()
    {
        Assert.True(Request("GET").MayUseStored);
        Assert.True(Request("HEAD").MayUseStored);
        Assert.False(Request("POST").MayUseStored);
        Assert.False(Request("GET", "Range: bytes=0-1").MayUseStored);
        Assert.False(Request("GET", "If-None-Match: \"x\"").MayUseStored);
        Assert.False(Request("GET", "Authorization: Basic eDp5").MayUseStored);
    }

    [Theory]
    [InlineData("GET", false)]
    [InlineData("HEAD", false)]
    [InlineData("OPTIONS", false)]
    [InlineData("POST", true)]
    [InlineData("PUT", true)]
    [InlineData("DELETE", true)]
    [InlineData("PATCH", true)]
    public void RequestCacheInfo_UnsafeMethods_Invalidate(string method, bool unsafeMethod)
    {
        // RFC 9111 §4.4 with RFC 9110 §9.2.1 safe methods.
        Assert.Equal(unsafeMethod, Request(method).IsUnsafe);
    }
}
