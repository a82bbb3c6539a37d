using Gateway.Plugins.WireGuard.Crypto;
using Gateway.Plugins.WireGuard.Device;
using Gateway.Plugins.WireGuard.UAPI;
using Gateway.Sdk.Networking;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.WireGuard;

public sealed class UapiProtocolTests
{
    private static WireGuardDevice NewDevice() => new(Curve25519.GeneratePrivateKey(), new DeviceLink.Inbox(), NullLogger.Instance);

    private static string Hex(byte[] key) => Convert.ToHexStringLower(key);

    [Fact]
    public void Set_PeerWithAllKeys_GetReportsThem()
    {
        WireGuardDevice device = NewDevice();
        byte[] peerKey = Curve25519.PublicKey(Curve25519.GeneratePrivateKey());
        byte[] psk = Enumerable.Repeat((byte)7, 32).ToArray();
        int port = 0;
        int errno = UapiProtocol.Set(device, [
            "listen_port=51999",
            $"public_key={Hex(peerKey)}",
            $"preshared_key={Hex(psk)}",
            "endpoint=[fd00::5]:51820",
            "persistent_keepalive_interval=25",
            "replace_allowed_ips=true",
            "allowed_ip=10.5.0.0/24",
            "allowed_ip=fd05::/64",
            "protocol_version=1",
        ], p => { port = p; device.ListenPort = p; return true; }, out string? error);

        Assert.True(errno == 0, error);
        Assert.Equal(51999, port);
        string dump = UapiProtocol.Get(device);
        Assert.Contains($"private_key={Hex(device.Identity.PrivateKey)}\n", dump);
        Assert.Contains("listen_port=51999\n", dump);
        Assert.Contains($"public_key={Hex(peerKey)}\n", dump);
        Assert.Contains($"preshared_key={Hex(psk)}\n", dump);
        Assert.Contains("endpoint=[fd00::5]:51820\n", dump);
        Assert.Contains("persistent_keepalive_interval=25\n", dump);
        Assert.Contains("allowed_ip=10.5.0.0/24\n", dump);
        Assert.Contains("allowed_ip=fd05::/64\n", dump);
        Assert.Contains("last_handshake_time_sec=0\n", dump);
        Assert.Contains("rx_bytes=0\n", dump);
        Assert.NotNull(device.AllowedIps.Lookup(NetAddress.Parse("10.5.0.9")));
    }

    [Fact]
    public void Set_RemoveAndReplacePeers_PeersGone()
    {
        WireGuardDevice device = NewDevice();
        byte[] a = Curve25519.PublicKey(Curve25519.GeneratePrivateKey());
        byte[] b = Curve25519.PublicKey(Curve25519.GeneratePrivateKey());
        Assert.Equal(0, UapiProtocol.Set(device, [$"public_key={Hex(a)}", "allowed_ip=10.1.0.0/16", $"public_key={Hex(b)}", "allowed_ip=10.2.0.0/16"], null, out _));
        Assert.Equal(2, device.Peers.Count);
        Assert.Equal(0, UapiProtocol.Set(device, [$"public_key={Hex(a)}", "remove=true", "allowed_ip=10.9.0.0/16"], null, out _));
        Assert.Single(device.Peers);
        Assert.Null(device.AllowedIps.Lookup(NetAddress.Parse("10.1.0.1")));
        Assert.Null(device.AllowedIps.Lookup(NetAddress.Parse("10.9.0.1")));
        Assert.Equal(0, UapiProtocol.Set(device, ["replace_peers=true"], null, out _));
        Assert.Empty(device.Peers);
    }

    [Fact]
    public void Set_UpdateOnlyForUnknownPeer_NotCreated()
    {
        WireGuardDevice device = NewDevice();
        byte[] a = Curve25519.PublicKey(Curve25519.GeneratePrivateKey());
        Assert.Equal(0, UapiProtocol.Set(device, [$"public_key={Hex(a)}", "update_only=true", "allowed_ip=10.1.0.0/16"], null, out _));
        Assert.Empty(device.Peers);
    }

    [Theory]
    [InlineData("public_key=zz", -22)]
    [InlineData("listen_port=70000", -22)]
    [InlineData("bogus_key=1", -22)]
    [InlineData("no equals sign", -71)]
    public void Set_BadLine_NegativeErrno(string line, int expected)
    {
        WireGuardDevice device = NewDevice();
        Assert.Equal(expected, UapiProtocol.Set(device, [line], null, out string? error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void Set_BadAllowedIpForPeer_Errno22()
    {
        WireGuardDevice device = NewDevice();
        byte[] a = Curve25519.PublicKey(Curve25519.GeneratePrivateKey());
        Assert.Equal(-22, UapiProtocol.Set(device, [$"public_key={Hex(a)}", "allowed_ip=10.1.0.0/33"], null, out _));
    }

    [Fact]
    public async Task HandleRequest_GetAndUnknownOperation_ErrnoLines()
    {
        WireGuardDevice device = NewDevice();
        await using var server = new UapiServer(device, "unused", NullLogger.Instance, directory: Path.GetTempPath());
        var reader = Reader("get=1\n\nfrob=1\n\n");
        (string? get, bool close) = await server.HandleRequestAsync(reader, CancellationToken.None);
        Assert.NotNull(get);
        Assert.EndsWith("errno=0\n\n", get);
        Assert.False(close);
        (string? bad, _) = await server.HandleRequestAsync(reader, CancellationToken.None);
        Assert.Equal("errno=-71\n\n", bad);
        (string? end, bool closeAtEnd) = await server.HandleRequestAsync(reader, CancellationToken.None);
        Assert.Null(end);
        Assert.True(closeAtEnd);
    }

    [Fact]
    public async Task HandleRequest_LineLongerThanCap_RefusedAndConnectionClosedNothingApplied()
    {
        WireGuardDevice device = NewDevice();
        await using var server = new UapiServer(device, "unused", NullLogger.Instance, directory: Path.GetTempPath());
        string key = Hex(Curve25519.PublicKey(Curve25519.GeneratePrivateKey()));
        string huge = "allowed_ip=" + new string('1', UapiRequestReader.MaxLineBytes);

        (string? reply, bool close) = await server.HandleRequestAsync(Reader($"set=1\npublic_key={key}\n{huge}\n\n"), CancellationToken.None);

        Assert.Equal("errno=-90\n\n", reply);
        Assert.True(close);
        Assert.Empty(device.Peers);
    }

    [Fact]
    public async Task HandleRequest_LineWithoutEndPastCap_RefusedWithoutReadingTheRest()
    {
        WireGuardDevice device = NewDevice();
        await using var server = new UapiServer(device, "unused", NullLogger.Instance, directory: Path.GetTempPath());
        var endless = new EndlessStream((byte)'x');

        (string? reply, bool close) = await server.HandleRequestAsync(new UapiRequestReader(endless), CancellationToken.None);

        Assert.Equal("errno=-90\n\n", reply);
        Assert.True(close);
        Assert.True(endless.BytesRead <= UapiRequestReader.MaxLineBytes + 8192, $"read {endless.BytesRead} bytes of an endless line");
    }

    [Fact]
    public async Task HandleRequest_RequestLargerThanCap_RefusedAndConnectionClosed()
    {
        WireGuardDevice device = NewDevice();
        await using var server = new UapiServer(device, "unused", NullLogger.Instance, directory: Path.GetTempPath());
        // Short valid-looking lines, endlessly: only the request cap stops them.
        var endless = new EndlessStream("protocol_version=1\n"u8.ToArray(), prefix: "set=1\n"u8.ToArray());

        (string? reply, bool close) = await server.HandleRequestAsync(new UapiRequestReader(endless), CancellationToken.None);

        Assert.Equal("errno=-90\n\n", reply);
        Assert.True(close);
        Assert.InRange(endless.BytesRead, UapiRequestReader.MaxRequestBytes, UapiRequestReader.MaxRequestBytes + 8192);
    }

    [Fact]
    public async Task Start_SocketCreated_Mode0600FromTheStart()
    {
        string directory = Directory.CreateTempSubdirectory("gwt-uapi-").FullName;
        try
        {
            await using var server = new UapiServer(NewDevice(), "wgmode", NullLogger.Instance, directory: directory);
            Assert.True(server.Start());

            // stat(1), not .NET: the mode the kernel reports for the socket inode.
            var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%A", server.SocketPath]) { RedirectStandardOutput = true })!;
            string mode = (await stat.StandardOutput.ReadToEndAsync()).Trim();
            await stat.WaitForExitAsync();
            Assert.Equal("srw-------", mode);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static UapiRequestReader Reader(string text) => new(new MemoryStream(System.Text.Encoding.ASCII.GetBytes(text)));

    /// <summary>A client that never stops sending: <c>prefix</c>, then <c>pattern</c> again and again.</summary>
    private sealed class EndlessStream(byte[] pattern, byte[]? prefix = null) : Stream
    {
        private long _position;

        public EndlessStream(byte value)
            : this([value])
        {
        }

        public long BytesRead => _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int head = prefix?.Length ?? 0;
            for (int i = 0; i < count; i++, _position++)
            {
                buffer[offset + i] = _position < head ? prefix![_position] : pattern[(_position - head) % pattern.Length];
            }

            return count;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
