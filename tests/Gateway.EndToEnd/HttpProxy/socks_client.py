#!/usr/bin/env python3
"""A raw SOCKS5 client for the proxy's end-to-end tests (RFC 1928 byte for byte, no library in between).

  socks_client.py connect PROXY_HOST PROXY_PORT DST_HOST DST_PORT [USER PASS]
      prints the reply code of a CONNECT (0 succeeded, 2 not allowed, ...), or "auth-failed" / "no-method"
  socks_client.py command PROXY_HOST PROXY_PORT CMD
      sends command CMD (2 = BIND) for 127.0.0.1:80 and prints the reply code
  socks_client.py udp PROXY_HOST PROXY_PORT COUNT
      UDP ASSOCIATE, then COUNT datagrams through the relay to a UDP echo server this script runs on 127.0.0.1;
      prints "echoed N", then whether a fragment (FRAG=1) and a datagram from another port came back
      ("fragment-relayed yes|no", "stranger-relayed yes|no")
  socks_client.py udp-to PROXY_HOST PROXY_PORT DST_HOST DST_PORT
      UDP ASSOCIATE from this host's address toward the proxy, one datagram to DST through the relay; prints
      "relayed yes" when DST's echo came back within 2 s, else "relayed no"
  socks_client.py echo HOST PORT
      a UDP echo server (runs until killed)
  socks_client.py fetch pipelined|bytewise PROXY_HOST PROXY_PORT DST_HOST DST_PORT PATH [USER PASS [SOURCE]]
      CONNECT (with RFC 1929 username/password when USER is given, from SOURCE when given), then
      `GET PATH HTTP/1.0` through the tunnel; prints "reply R status S sha256 H" (H of the response body).
      pipelined: the greeting, the credentials, the request and the GET go out in ONE write before any answer is
      read (curl's pipelining, taken to the end); bytewise: every message goes out one byte per write, each answer
      awaited as a non-pipelining client does
"""
import hashlib
import ipaddress
import socket
import struct
import sys
import threading
import time


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def encode_address(host, port):
    try:
        ip = ipaddress.ip_address(host)
        atyp = b"\x01" if ip.version == 4 else b"\x04"
        return atyp + ip.packed + struct.pack("!H", port)
    except ValueError:
        name = host.encode("ascii")
        return b"\x03" + bytes([len(name)]) + name + struct.pack("!H", port)


def read_reply(sock):
    head = recv_exact(sock, 4)
    atyp = head[3]
    if atyp == 1:
        addr = socket.inet_ntop(socket.AF_INET, recv_exact(sock, 4))
    elif atyp == 4:
        addr = socket.inet_ntop(socket.AF_INET6, recv_exact(sock, 16))
    else:
        addr = recv_exact(sock, recv_exact(sock, 1)[0]).decode()
    port = struct.unpack("!H", recv_exact(sock, 2))[0]
    return head[1], addr, port


def negotiate(sock, user=None, password=None):
    methods = b"\x02" if user is not None else b"\x00"
    sock.sendall(b"\x05\x01" + methods)
    version, method = recv_exact(sock, 2)
    if method == 0xFF:
        return "no-method"
    if method == 0x02:
        u, p = user.encode(), password.encode()
        sock.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        if recv_exact(sock, 2)[1] != 0:
            return "auth-failed"
    return None


def open_control(proxy_host, proxy_port):
    sock = socket.create_connection((proxy_host, proxy_port), timeout=30)
    return sock


def cmd_connect(proxy_host, proxy_port, dst_host, dst_port, user=None, password=None):
    sock = open_control(proxy_host, proxy_port)
    failure = negotiate(sock, user, password)
    if failure:
        print(failure)
        return
    sock.sendall(b"\x05\x01\x00" + encode_address(dst_host, dst_port))
    print(read_reply(sock)[0])


def cmd_command(proxy_host, proxy_port, command):
    sock = open_control(proxy_host, proxy_port)
    negotiate(sock)
    sock.sendall(b"\x05" + bytes([command]) + b"\x00" + encode_address("127.0.0.1", 80))
    print(read_reply(sock)[0])


def cmd_udp(proxy_host, proxy_port, count):
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("127.0.0.1", 0))
    echo_port = echo.getsockname()[1]

    def serve():
        while True:
            try:
                data, peer = echo.recvfrom(65535)
            except OSError:
                return
            echo.sendto(data, peer)

    threading.Thread(target=serve, daemon=True).start()

    control, client, relay = associate(proxy_host, proxy_port, "127.0.0.1", 5)
    if relay is None:
        return
    header = b"\x00\x00\x00" + encode_address("127.0.0.1", echo_port)
    echoed = 0
    for i in range(count):
        payload = f"datagram {i} ".encode() * (1 + i % 50)
        client.sendto(header + payload, relay)
        data, _ = client.recvfrom(65535)
        # The answer carries the echo server's address in the same header form.
        if data[:3] == b"\x00\x00\x00" and data[3:3 + 7] == encode_address("127.0.0.1", echo_port) and data[10:] == payload:
            echoed += 1
    print(f"echoed {echoed}")

    client.settimeout(1)
    client.sendto(b"\x00\x00\x01" + encode_address("127.0.0.1", echo_port) + b"fragment", relay)
    print("fragment-relayed " + ("yes" if received(client) else "no"))
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.1", 0))
    stranger.settimeout(1)
    stranger.sendto(header + b"stranger", relay)
    print("stranger-relayed " + ("yes" if received(stranger) or received(client) else "no"))
    control.close()


def associate(proxy_host, proxy_port, bind_host, timeout):
    """UDP ASSOCIATE; returns (control, client socket, relay address), relay None (and a line printed) on failure."""
    control = open_control(proxy_host, proxy_port)
    negotiate(control)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind((bind_host, 0))
    client.settimeout(timeout)
    # The port we will send from: the proxy pins the association to it.
    control.sendall(b"\x05\x03\x00" + encode_address("0.0.0.0", client.getsockname()[1]))
    rep, relay_host, relay_port = read_reply(control)
    if rep != 0:
        print(f"associate-failed {rep}")
        return control, client, None
    return control, client, (relay_host, relay_port)


def cmd_udp_to(proxy_host, proxy_port, dst_host, dst_port):
    control, client, relay = associate(proxy_host, proxy_port, "0.0.0.0", 2)
    if relay is None:
        return
    client.sendto(b"\x00\x00\x00" + encode_address(dst_host, dst_port) + b"ping", relay)
    print("relayed " + ("yes" if received(client) else "no"))
    control.close()


def cmd_echo(host, port):
    echo = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind((host, port))
    while True:
        data, peer = echo.recvfrom(65535)
        echo.sendto(data, peer)


def cmd_fetch(mode, proxy_host, proxy_port, dst_host, dst_port, path, user=None, password=None, source=None):
    sock = socket.create_connection((proxy_host, proxy_port), timeout=30, source_address=(source, 0) if source else None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    greeting = b"\x05\x01" + (b"\x02" if user is not None else b"\x00")
    credentials = b""
    if user is not None:
        u, p = user.encode(), password.encode()
        credentials = b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p
    request = b"\x05\x01\x00" + encode_address(dst_host, dst_port)
    get = f"GET {path} HTTP/1.0\r\nHost: {dst_host}:{dst_port}\r\n\r\n".encode()

    def send_bytewise(message):
        for i in range(len(message)):
            sock.sendall(message[i:i + 1])
            # Not a wait for anything: a pause so that each byte leaves as its own segment and the proxy reads the
            # message in pieces.
            time.sleep(0.002)

    if mode == "pipelined":
        sock.sendall(greeting + credentials + request + get)
    else:
        send_bytewise(greeting)
    method = recv_exact(sock, 2)[1]
    if method != (0x02 if user is not None else 0x00):
        print(f"method {method}")
        return
    if user is not None:
        if mode != "pipelined":
            send_bytewise(credentials)
        status = recv_exact(sock, 2)[1]
        if status != 0:
            print("auth-failed")
            return
    if mode != "pipelined":
        send_bytewise(request)
    reply, _, _ = read_reply(sock)
    if reply != 0:
        print(f"reply {reply}")
        return
    if mode != "pipelined":
        send_bytewise(get)
    response = b""
    while chunk := sock.recv(65536):
        response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    print(f"reply {reply} status {head.split(b' ')[1].decode()} sha256 {hashlib.sha256(body).hexdigest()}")


def received(sock):
    try:
        sock.recvfrom(65535)
        return True
    except socket.timeout:
        return False


def main(argv):
    if argv[1] == "connect":
        cmd_connect(argv[2], int(argv[3]), argv[4], int(argv[5]), *(argv[6:8]))
    elif argv[1] == "command":
        cmd_command(argv[2], int(argv[3]), int(argv[4]))
    elif argv[1] == "udp-to":
        cmd_udp_to(argv[2], int(argv[3]), argv[4], int(argv[5]))
    elif argv[1] == "echo":
        cmd_echo(argv[2], int(argv[3]))
    elif argv[1] == "fetch":
        cmd_fetch(argv[2], argv[3], int(argv[4]), argv[5], int(argv[6]), argv[7], *(argv[8:11]))
    elif argv[1] == "udp":
        cmd_udp(argv[2], int(argv[3]), int(argv[4]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
