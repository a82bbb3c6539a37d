namespace Gateway.Plugins.DnsDot.Lists;

/// <summary>The configured <c>lists:</c> as rule scripts see them: <c>BlockList("ads")</c> names one.</summary>
internal interface IListCatalog
{
    /// <summary>The list called <paramref name="name"/>, or null when <c>lists:</c> has none by that name.</summary>
    SubscribedList? Find(string name);

    /// <summary>Counts a query the list decided.</summary>
    void CountHit(SubscribedList list);
}

/// <summary>
/// Names only, for <c>gateway check</c>: scripts compile and run against lists that are never loaded, so a script
/// naming a configured list checks without downloading anything.
/// </summary>
internal sealed class NamedListCatalog(IEnumerable<Configuration.ListOptions> lists, string configDirectory) : IListCatalog
{
    private readonly Dictionary<string, SubscribedList> _lists = lists
        .Where(list => ListDefinition.IsValidName(list.Name))
        .DistinctBy(list => list.Name)
        .ToDictionary(list => list.Name!, list => new SubscribedList(
            new ListDefinition(list.Name!, null, null, string.Equals(list.Kind, "allow", StringComparison.OrdinalIgnoreCase), ListFormat.Hosts, TimeSpan.Zero, 0, TimeSpan.Zero),
            configDirectory, null!, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance), StringComparer.Ordinal);

    public SubscribedList? Find(string name) => _lists.GetValueOrDefault(name);

    public void CountHit(SubscribedList list) => list.CountHit();
}
