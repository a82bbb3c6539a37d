using System.Xml.Linq;

namespace Gateway.Tests.Templates;

/// <summary>
/// The template's projects build outside the repository, so they carry their own versions; these must follow the
/// repository's (the SDK's version, and the Microsoft.Extensions version the host ships) or new plugins start stale.
/// </summary>
public sealed class TemplateVersionsTests
{
    private static readonly string Root = FindRoot();

    [Fact]
    public void TemplateProps_SdkAndExtensionsVersions_MatchTheRepository()
    {
        XElement template = XElement.Load(Path.Combine(Root, "templates", "gateway-plugin", "Directory.Build.props"));
        XElement sdk = XElement.Load(Path.Combine(Root, "sdk", "Gateway.Sdk.csproj"));
        XElement packages = XElement.Load(Path.Combine(Root, "Directory.Packages.props"));

        Assert.Equal(Property(sdk, "Version"), Property(template, "GatewaySdkVersion"));
        Assert.Equal(Property(packages, "MicrosoftExtensionsVersion"), Property(template, "GatewayExtensionsVersion"));
    }

    private static string? Property(XElement project, string name) => project.Descendants(name).FirstOrDefault()?.Value;

    private static string FindRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "Gateway.sln")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("Gateway.sln not found above " + AppContext.BaseDirectory);
    }
}
