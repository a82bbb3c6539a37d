using Gateway.EndToEnd.Infrastructure;

namespace Gateway.EndToEnd.HttpProxy;

/// <summary>
/// A WebSocket-style origin on loopback (python3, raw sockets, keep-alive): <c>/ws</c> checks the upgrade request as
/// the proxy forwards it, answers 101 with Sec-WebSocket-Accept (RFC 6455 §4.2.2) and echoes raw bytes until the
/// client half-closes, then closes; <c>/refuse/426</c> and <c>/refuse/200</c> answer that status instead of
/// switching (the 200 is cacheable for 60 s); <c>/plain</c> answers 200; <c>/sneaky</c> answers 101 to any request.
/// Each response carries <c>X-Request-Number</c> (how many requests its origin connection has carried, this one
/// included), and each but the 101s <c>X-Served</c> (how many such responses the origin has sent in all).
/// </summary>
internal sealed class WebSocketOrigin : IAsyncDisposable
{
    private const string Script = """
        import base64, hashlib, itertools, socket, socketserver, sys

        GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        served = itertools.count(1)

        def tokens(fields, name):
            return [t.strip().lower() for v in fields.get(name, []) for t in v.split(",")]

        def problem(version, fields):
            # What the proxy must have forwarded (RFC 9110 section 7.8, RFC 6455 section 4.1).
            if version != "HTTP/1.1":
                return "version " + version
            if fields.get("upgrade") != ["websocket"]:
                return "upgrade %r" % fields.get("upgrade")
            if tokens(fields, "connection") != ["upgrade"]:
                return "connection %r" % fields.get("connection")
            for hop in ("keep-alive", "x-hop", "proxy-connection"):
                if hop in fields:
                    return "hop-by-hop field forwarded: " + hop
            if "gateway" not in " ".join(fields.get("via", [])):
                return "no via"
            if len(fields.get("sec-websocket-key", [])) != 1 or fields.get("sec-websocket-version") != ["13"]:
                return "websocket key/version"
            return None

        class Handler(socketserver.BaseRequestHandler):
            def reply(self, status, extra, body, number):
                self.request.sendall(("HTTP/1.1 %s\r\n%sX-Request-Number: %d\r\nX-Served: %d\r\nContent-Length: %d\r\n\r\n%s"
                                      % (status, extra, number, next(served), len(body), body)).encode())

            def handle(self):
                conn, buf, number = self.request, b"", 0
                while True:
                    while b"\r\n\r\n" not in buf:
                        data = conn.recv(65536)
                        if not data:
                            return
                        buf += data
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    method, path, version = lines[0].split(" ")
                    fields = {}
                    for line in lines[1:]:
                        name, _, value = line.partition(":")
                        fields.setdefault(name.strip().lower(), []).append(value.strip())
                    number += 1
                    if path == "/ws":
                        why = problem(version, fields)
                        if why:
                            self.reply("400 Bad Upgrade", "", why, number)
                            continue
                        key = fields["sec-websocket-key"][0].encode()
                        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
                        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                      "Sec-WebSocket-Accept: %s\r\nX-Request-Number: %d\r\n\r\n" % (accept, number)).encode())
                        # Bytes the client sent right behind its head arrived with it.
                        if buf:
                            conn.sendall(buf)
                        while True:
                            data = conn.recv(65536)
                            if not data:
                                break
                            conn.sendall(data)
                        conn.shutdown(socket.SHUT_WR)
                        return
                    elif path == "/refuse/426":
                        self.reply("426 Upgrade Required", "Upgrade: websocket\r\nConnection: Upgrade\r\n", "upgrade refused", number)
                    elif path == "/refuse/200":
                        self.reply("200 OK", "Cache-Control: max-age=60\r\n", "no upgrade here", number)
                    elif path == "/plain":
                        self.reply("200 OK", "", "plain", number)
                    elif path == "/sneaky":
                        conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
                        return
                    else:
                        self.reply("404 Not Found", "", "no such path", number)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        socketserver.ThreadingTCPServer.daemon_threads = True
        with socketserver.ThreadingTCPServer(("127.0.0.1", int(sys.argv[1])), Handler) as server:
            server.serve_forever()
        """;

    private readonly BackgroundProcess _python;
    private readonly string _scriptPath;

    private WebSocketOrigin(BackgroundProcess python, string scriptPath, int port)
    {
        _python = python;
        _scriptPath = scriptPath;
        Port = port;
    }

    public int Port { get; }

    /// <summary>"http://127.0.0.1:port".</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    public static async Task<WebSocketOrigin> StartAsync()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ws-origin-{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(path, Script);
        int port = TestOrigin.FreePort();
        BackgroundProcess python = BackgroundProcess.Start("python3", [path, port.ToString()], name: "python-websocket-origin");
        var origin = new WebSocketOrigin(python, path, port);
        try
        {
            await ProxySockets.WaitForPortAsync(port);
        }
        catch (TimeoutException)
        {
            await origin.DisposeAsync();
            throw;
        }

        return origin;
    }

    public async ValueTask DisposeAsync()
    {
        await _python.DisposeAsync();
        File.Delete(_scriptPath);
    }
}
