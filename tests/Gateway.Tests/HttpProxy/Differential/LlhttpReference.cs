using System.Text;
using System.Text.Json;
using Gateway.Plugins.HttpProxy.Wire;

namespace Gateway.Tests.HttpProxy.Differential;

/// <summary>
/// llhttp — the parser of Node.js's http module, run strict as Node's server runs it — parsing the same bytes,
/// through <c>llhttp-reference.js</c> (one node process for a whole corpus).
/// </summary>
internal static class LlhttpReference
{
    public static async Task<IReadOnlyList<ParseOutcome>> ParseAsync(IReadOnlyList<byte[]> inputs)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "HttpProxy", "Differential", "llhttp-reference.js");
        var start = new System.Diagnostics.ProcessStartInfo("node", [script])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using System.Diagnostics.Process node = System.Diagnostics.Process.Start(start)
            ?? throw new InvalidOperationException("node (Debian package nodejs) is needed for the llhttp differential test");
        Task<string> output = node.StandardOutput.ReadToEndAsync();
        Task<string> errors = node.StandardError.ReadToEndAsync();
        foreach (byte[] input in inputs)
        {
            await node.StandardInput.WriteLineAsync(Convert.ToBase64String(input));
        }

        node.StandardInput.Close();
        using CancellationTokenSource timeout = new(TimeSpan.FromMinutes(2));
        await node.WaitForExitAsync(timeout.Token);
        if (node.ExitCode != 0)
        {
            throw new InvalidOperationException($"llhttp-reference.js exited {node.ExitCode}: {await errors}");
        }

        List<ParseOutcome> outcomes = [];
        foreach (string line in (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using JsonDocument document = JsonDocument.Parse(line);
            JsonElement root = document.RootElement;
            List<(string, string)> headers = [];
            foreach (JsonElement pair in root.GetProperty("headers").EnumerateArray())
            {
                headers.Add((pair[0].GetString()!, pair[1].GetString()!));
            }

            outcomes.Add(new ParseOutcome
            {
                Outcome = root.GetProperty("outcome").GetString()!,
                Error = root.TryGetProperty("error", out JsonElement error) ? error.GetString() : null,
                Method = root.TryGetProperty("method", out JsonElement method) ? method.GetString() : null,
                Url = root.GetProperty("url").GetString(),
                Minor = root.TryGetProperty("minor", out JsonElement minor) ? minor.GetInt32() : 0,
                Headers = headers,
                Body = Convert.FromBase64String(root.GetProperty("body").GetString()!),
                Consumed = root.TryGetProperty("consumed", out JsonElement consumed) ? consumed.GetInt32() : 0,
            });
        }

        Assert.Equal(inputs.Count, outcomes.Count);
        return outcomes;
    }
}
