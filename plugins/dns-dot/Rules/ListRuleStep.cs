using Gateway.Plugins.DnsDot.Lists;

namespace Gateway.Plugins.DnsDot.Rules;

/// <summary>
/// <c>BlockList("ads")</c> / <c>AllowList("mine")</c> naming a configured list: reads the list's current matcher
/// per query, so a refresh of the list changes what the rule matches at once (the list swaps its matcher
/// atomically, as a script reload swaps the rules) without recompiling the script.
/// </summary>
internal sealed class ListRuleStep : RuleStep
{
    private readonly SubscribedList _list;
    private readonly IListCatalog _catalog;
    private readonly bool _allow;

    public ListRuleStep(string name, SubscribedList list, IListCatalog catalog, bool allow)
        : base(name)
    {
        _list = list;
        _catalog = catalog;
        _allow = allow;
    }

    public override Verdict Evaluate(DnsQuery query, ReadOnlySpan<byte> name, RuleFailureReporter failures)
    {
        ListMatch match = _list.Match(name);
        if (match == ListMatch.None)
        {
            return Verdict.Continue;
        }

        _catalog.CountHit(_list);

        // An allow list's entries, and an adblock exception (@@) in a block list, let the name through.
        return _allow || match == ListMatch.Allow ? Verdict.Allow : Verdict.Blocked;
    }
}
