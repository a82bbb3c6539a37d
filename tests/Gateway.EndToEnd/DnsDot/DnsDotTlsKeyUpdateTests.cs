using System.Buffers.Binary;
using System.Diagnostics;
using Gateway.EndToEnd.Host;
using Gateway.EndToEnd.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.EndToEnd.DnsDot;

/// <summary>
/// Post-handshake TLS messages from a DoT client while the gateway is writing answers, through the published gateway
/// (its DoT connections on dns-dot's epoll loops, <c>LoopStream</c> under <c>SslStream</c>): TLS 1.3 KeyUpdate
/// requests (RFC 8446 §4.6.3) and a TLS 1.2 renegotiation, sent by <c>openssl s_client</c>'s connected commands
/// ("K", "R" on a line of their own) between pipelined queries whose answers, cached and forwarded from a real unbound,
/// are still being written.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DnsDotTlsKeyUpdateTests : IClassFixture<UnboundDotFixture>, IAsyncLifetime
{
    private const string ServerName = "dns.test";
    private const ushort Txt = 16;
    private const ushort A = 1;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly UnboundDot _unbound;
    private readonly ITestOutputHelper _output;
    private ListenerCertificates _certificates = null!;
    private GatewayProcess _gateway = null!;
    private int _tls;

    public DnsDotTlsKeyUpdateTests(UnboundDotFixture fixture, ITestOutputHelper output)
    {
        _unbound = fixture.Unbound;
        _output = output;
    }

    public async Task InitializeAsync()
    {
        _certificates = new ListenerCertificates(ServerName);
        _tls = PrometheusText.FreePort();
        string yaml = $"""
            dns-dot:
              listenTls: ["127.0.0.1:{_tls}"]
              certFile: "{_certificates.CertFile}"
              keyFile: "{_certificates.KeyFile}"
              upstreams:
                - {"{"} address: "{_unbound.Address}", tlsName: "{UnboundDot.TlsName}", caFile: "{_unbound.CaFile}" {"}"}
            """;
        _gateway = await GatewayProcess.StartAsync(yaml);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        _certificates.Dispose();
    }

    [Fact]
    public async Task SClient_KeyUpdatesWhileAnswersAreWritten_EveryQueryAnsweredAfterwardsAndGatewayServes()
    {
        const int Rounds = 12;
        const int PerBatch = 90;
        await using var client = SClient.Start(_tls, "-tls1_3", _certificates.CaFile, Path.Combine(_certificates.Directory, "keyupdate-msg.log"));
        var expected = new Dictionary<ushort, (string Name, ushort Type)>();
        ushort nextId = 1;
        int owedAtKeyUpdate = 0;

        // Each round: a batch of pipelined queries (every other one big.test TXT, ~3 KB answers, cached after the first
        // round; the rest names unbound answers NXDOMAIN, each forwarded, answered from the upstream's reader thread),
        // then, as soon as the first answer shows the gateway has the batch, a KeyUpdate requesting one back while the
        // rest of the answers are still being written.
        for (int round = 0; round <= Rounds; round++)
        {
            var batch = new List<byte>();
            var ids = new List<ushort>();
            for (int i = 0; i < PerBatch; i++)
            {
                (string name, ushort type) = i % 2 == 0 ? ("big.test", Txt) : ($"k{round}x{i}.test", A);
                ushort id = nextId++;
                expected[id] = (name, type);
                ids.Add(id);
                byte[] query = DnsDotClient.Query(name, type, id);
                batch.AddRange([(byte)(query.Length >> 8), (byte)query.Length, .. query]);
            }

            await client.SendAsync(batch.ToArray());
            Assert.True(await client.WaitUntilAsync(() => ids.Exists(client.Answered), Deadline), $"round {round}: no answer");
            if (round < Rounds)
            {
                await client.CommandAsync("K", Deadline);
                owedAtKeyUpdate += ids.Exists(id => !client.Answered(id)) ? 1 : 0;
            }
        }

        Assert.True(await client.WaitUntilAsync(() => client.AnswerCount >= expected.Count, Deadline), $"{client.AnswerCount} of {expected.Count} answers");
        IReadOnlyList<byte[]> answers = client.Answers();
        Assert.Equal(expected.Count, answers.Count);
        Assert.Equal(expected.Count, answers.Select(a => DnsDotClient.Id(a)).Distinct().Count());
        foreach (byte[] answer in answers)
        {
            (string name, ushort type) = expected[DnsDotClient.Id(answer)];
            Assert.Equal(name, DnsDotClient.QuestionName(answer));
            Assert.Equal(type == Txt ? 0 : 3, DnsDotClient.Rcode(answer));
            Assert.Equal(type == Txt ? 12 : 0, BinaryPrimitives.ReadUInt16BigEndian(answer.AsSpan(6)));
        }

        // The gateway answered the requests with KeyUpdates of its own (RFC 8446 §4.6.3), which the client accepted.
        string messages = client.Messages();
        int sent = PluginDropInTests.CountOf(messages, ">>> TLS 1.3, Handshake [length 0005], KeyUpdate");
        int received = PluginDropInTests.CountOf(messages, "<<< TLS 1.3, Handshake [length 0005], KeyUpdate");
        _output.WriteLine($"KeyUpdates sent {sent}, received {received}; {owedAtKeyUpdate} sent with answers still owed; {answers.Count} answers");
        Assert.Equal(Rounds, sent);
        Assert.True(owedAtKeyUpdate > 0, "every KeyUpdate came after its batch was answered: nothing was being written");
        Assert.InRange(received, 1, Rounds);

        await AssertGatewayServesAsync();
    }

    [Fact]
    public async Task SClient_RenegotiationOverTls12_ThatConnectionEndsAndGatewayServes()
    {
        await using var client = SClient.Start(_tls, "-tls1_2", _certificates.CaFile, Path.Combine(_certificates.Directory, "renegotiate-msg.log"));
        byte[] query = DnsDotClient.Query("a.test", A, 7);
        await client.SendAsync([(byte)(query.Length >> 8), (byte)query.Length, .. query]);
        Assert.True(await client.WaitUntilAsync(() => client.Answered(7), Deadline));

        // SslStream refuses a renegotiation (AllowRenegotiation is false): it ends the connection rather than answer
        // it from its read path.
        await client.CommandAsync("R", Deadline);
        Assert.True(await client.WaitUntilAsync(() => client.Closed, Deadline), "the connection stayed open");

        await AssertGatewayServesAsync();
    }

    private async Task AssertGatewayServesAsync()
    {
        CommandResult kdig = await ProcessRunner.RunAsync("kdig", ["@127.0.0.1", "-p", _tls.ToString(), "+tls", $"+tls-ca={_certificates.CaFile}", $"+tls-hostname={ServerName}", "+time=5", "+retry=0", "a.test", "A"], Deadline);
        Assert.True(kdig.ExitCode == 0, kdig.Output);
        Assert.Contains("10.0.0.1", kdig.Output);
        Assert.False(_gateway.HasExited);
        Assert.DoesNotContain("Unhandled exception", _gateway.Output);
    }

    /// <summary>
    /// <c>openssl s_client -quiet -no_ign_eof</c>: no session text on stdout (only the server's bytes, DNS frames here),
    /// and its connected commands on: a line of just "K" sends a KeyUpdate with update_requested, "R" renegotiates
    /// (stderr says KEYUPDATE, RENEGOTIATING). s_client reads its stdin only once it has sent what it read before, and
    /// a pipe write of at most 4096 bytes arrives in one read: each write here waits until the last was consumed (an
    /// answer, or the command's line on stderr), so a command is never read together with queries (a read starting
    /// with "K" would be taken as the command and the rest dropped).
    /// </summary>
    private sealed class SClient : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _messageFile;
        private readonly Lock _gate = new();
        private readonly List<byte> _stdout = [];
        private readonly List<byte[]> _frames = [];
        private readonly HashSet<ushort> _ids = [];
        private int _parsed;
        private readonly System.Text.StringBuilder _stderr = new();
        private readonly Task _readers;
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private bool _closed;

        private SClient(Process process, string messageFile)
        {
            _process = process;
            _messageFile = messageFile;
            _readers = Task.WhenAll(Task.Run(ReadStdoutAsync), Task.Run(ReadStderrAsync));
        }

        public static SClient Start(int port, string version, string caFile, string messageFile)
        {
            var start = new ProcessStartInfo("openssl")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (string argument in new[]
            {
                "s_client", "-quiet", "-no_ign_eof", version, "-connect", $"127.0.0.1:{port}", "-servername", ServerName,
                "-CAfile", caFile, "-verify_return_error", "-msg", "-msgfile", messageFile,
            })
            {
                start.ArgumentList.Add(argument);
            }

            return new SClient(Process.Start(start)!, messageFile);
        }

        /// <summary>True once s_client's stdout ended (the connection closed).</summary>
        public bool Closed
        {
            get
            {
                lock (_gate)
                {
                    return _closed;
                }
            }
        }

        public int AnswerCount
        {
            get
            {
                lock (_gate)
                {
                    return _frames.Count;
                }
            }
        }

        public bool Answered(ushort id)
        {
            lock (_gate)
            {
                return _ids.Contains(id);
            }
        }

        public IReadOnlyList<byte[]> Answers()
        {
            lock (_gate)
            {
                return _frames.ToList();
            }
        }

        public string Messages() => File.ReadAllText(_messageFile);

        public async Task SendAsync(byte[] bytes)
        {
            Assert.InRange(bytes.Length, 1, 4096);
            await _process.StandardInput.BaseStream.WriteAsync(bytes);
            await _process.StandardInput.BaseStream.FlushAsync();
        }

        /// <summary>Sends a connected command and waits until s_client took it (its line on stderr).</summary>
        public async Task CommandAsync(string letter, TimeSpan timeout)
        {
            string said = letter == "K" ? "KEYUPDATE" : "RENEGOTIATING";
            int before;
            lock (_gate)
            {
                before = PluginDropInTests.CountOf(_stderr.ToString(), said);
            }

            await SendAsync(System.Text.Encoding.ASCII.GetBytes(letter + "\n"));
            Assert.True(await WaitUntilAsync(() => PluginDropInTests.CountOf(_stderr.ToString(), said) > before, timeout), $"s_client did not take {letter}: {_stderr}");
        }

        /// <summary>Waits until <paramref name="condition"/> (evaluated under the output's lock) holds; false at the timeout.</summary>
        public async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            while (true)
            {
                Task changed;
                lock (_gate)
                {
                    if (condition())
                    {
                        return true;
                    }

                    changed = _changed.Task;
                }

                try
                {
                    await changed.WaitAsync(cts.Token);
                }
                catch (OperationCanceledException)
                {
                    lock (_gate)
                    {
                        return condition();
                    }
                }
            }
        }

        // Takes the frames completed by the bytes received since the last call (the caller holds _gate).
        private void ParseFrames()
        {
            while (_stdout.Count - _parsed >= 2)
            {
                int length = (_stdout[_parsed] << 8) | _stdout[_parsed + 1];
                if (_stdout.Count - _parsed - 2 < length)
                {
                    break;
                }

                byte[] frame = _stdout.GetRange(_parsed + 2, length).ToArray();
                _frames.Add(frame);
                _ids.Add(DnsDotClient.Id(frame));
                _parsed += 2 + length;
            }
        }

        private async Task ReadStdoutAsync()
        {
            byte[] buffer = new byte[65536];
            int read;
            while ((read = await _process.StandardOutput.BaseStream.ReadAsync(buffer)) > 0)
            {
                lock (_gate)
                {
                    _stdout.AddRange(buffer.AsSpan(0, read));
                    ParseFrames();
                }

                Changed();
            }

            lock (_gate)
            {
                _closed = true;
            }

            Changed();
        }

        private async Task ReadStderrAsync()
        {
            char[] buffer = new char[4096];
            int read;
            while ((read = await _process.StandardError.ReadAsync(buffer)) > 0)
            {
                lock (_gate)
                {
                    _stderr.Append(buffer, 0, read);
                }

                Changed();
            }
        }

        private void Changed()
        {
            TaskCompletionSource changed;
            lock (_gate)
            {
                changed = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            changed.TrySetResult();
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }

            await _process.WaitForExitAsync();
            await _readers.WaitAsync(Deadline);
            _process.Dispose();
        }
    }
}
