using Gateway.SchemaGen;

// gateway-schemagen [--check] [--plugins DIR]... [--out FILE]
//   writes gateway.schema.json at the repository root (or FILE); --check exits 1 when the file differs instead.
string? output = null;
bool check = false;
var pluginFolders = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--check":
            check = true;
            break;
        case "--plugins" when i + 1 < args.Length:
            pluginFolders.Add(Path.GetFullPath(args[++i]));
            break;
        case "--out" when i + 1 < args.Length:
            output = Path.GetFullPath(args[++i]);
            break;
        default:
            Console.Error.WriteLine("usage: gateway-schemagen [--check] [--plugins DIR]... [--out FILE]");
            return 2;
    }
}

string root = RepositoryRoot.Find(Directory.GetCurrentDirectory()) ?? RepositoryRoot.Find(AppContext.BaseDirectory)
    ?? throw new InvalidOperationException("run inside the repository (Gateway.sln not found above the current folder)");
output ??= Path.Combine(root, SchemaGenerator.SchemaFileName);
string schema = SchemaGenerator.Generate(root, pluginFolders);
if (check)
{
    bool current = File.Exists(output) && File.ReadAllText(output) == schema;
    Console.WriteLine(current ? $"{output} is up to date" : $"{output} is stale: run {SchemaGenerator.RegenerateCommand}");
    return current ? 0 : 1;
}

File.WriteAllText(output, schema);
Console.WriteLine($"wrote {output}");
return 0;
