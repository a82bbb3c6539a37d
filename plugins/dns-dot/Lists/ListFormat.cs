namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>The syntax of a list file (<c>format:</c>).</summary>
internal enum ListFormat
{
    /// <summary>Hosts file: "0.0.0.0 ads.example" blocks exactly the names listed (AdGuard Home, Pi-hole).</summary>
    Hosts,

    /// <summary>One name per line: the name and its subdomains; "*.example" its subdomains only.</summary>
    Domains,

    /// <summary>The adblock DNS subset: <c>||name^</c>, <c>|name^</c>, <c>@@</c> exceptions, <c>!</c> comments, <c>*</c> in the leftmost label.</summary>
    Adblock,
}
