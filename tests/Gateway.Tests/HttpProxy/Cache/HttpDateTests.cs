using System.Text;
using Gateway.Plugins.HttpProxy.Cache;

namespace Gateway.Tests.HttpProxy.Cache;

public sealed class HttpDateTests
{
    // RFC 9110 §5.6.7: the three forms of the same instant, 1994-11-06T08:49:37Z.
    [Theory]
    [InlineData("Sun, 06 Nov 1994 08:49:37 GMT")]
    [InlineData("Sunday, 06-Nov-94 08:49:37 GMT")]
    [InlineData("Sun Nov  6 08:49:37 1994")]
    public void TryParse_Rfc9110Examples_GiveTheSameInstant(string text)
    {
        Assert.True(HttpDate.TryParse(Encoding.ASCII.GetBytes(text), out long seconds));
        Assert.Equal(784111777, seconds);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("Sun, 32 Nov 1994 08:49:37 GMT")]
    [InlineData("Sun, 06 Foo 1994 08:49:37 GMT")]
    [InlineData("Sun, 06 Nov 1994 25:49:37 GMT")]
    [InlineData("")]
    public void TryParse_NotADate_IsFalse(string text)
    {
        Assert.False(HttpDate.TryParse(Encoding.ASCII.GetBytes(text), out _));
    }
}
