#!/usr/bin/env bash
# Captures the seed corpora of the fuzz targets from real programs (run as root; needs the Debian packages
# unbound knot-dnsutils tcpdump nginx-light curl wrk wireguard-go wireguard-tools iproute2 python3-dnspython).
# The seeds are committed under tests/Gateway.Fuzz/Corpus/; this script says where each came from and makes
# them again:   tests/Gateway.Fuzz/Seeds/capture.sh [dns|http|wireguard|uapi|yaml]...
# Everything runs on loopback or in network namespaces it creates and removes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
corpus=$(cd "$here/.." && pwd)/Corpus
root=$(cd "$here/../../.." && pwd)
tmp=$(mktemp -d /tmp/fuzz-seeds.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del fuzzseed-a 2>/dev/null || true
  ip netns del fuzzseed-b 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
py=/usr/bin/python3   # Debian's, which has python3-dnspython

capture() {  # capture IFACE FILTER FILE: starts tcpdump and waits until it listens
  tcpdump -i "$1" -U -w "$3" "$2" 2>"$3.log" &
  pids+=($!)
  for _ in $(seq 50); do grep -q listening "$3.log" && return; sleep 0.1; done
}

stop_capture() { sleep 0.5; kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; }

dns() {
  # unbound with local data as the server, kdig as the client: queries and answers as they are on the wire.
  cat > "$tmp/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@5399
  interface: ::1@5399
  do-daemonize: no
  use-syslog: no
  chroot: ""
  username: ""
  pidfile: ""
  directory: "$tmp"
  access-control: 127.0.0.0/8 allow
  access-control: ::1 allow
  do-not-query-localhost: yes
  edns-tcp-keepalive: yes
  local-zone: "example.test." static
  local-data: "example.test. 300 IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 60"
  local-data: "example.test. 300 IN NS ns.example.test."
  local-data: "ns.example.test. 300 IN A 192.0.2.53"
  local-data: "www.example.test. 300 IN A 192.0.2.80"
  local-data: "www.example.test. 300 IN A 192.0.2.81"
  local-data: "www.example.test. 300 IN AAAA 2001:db8::80"
  local-data: "alias.example.test. 300 IN CNAME www.example.test."
  local-data: "example.test. 300 IN MX 10 mail.example.test."
  local-data: "example.test. 300 IN TXT \"v=spf1 -all\" \"second string\""
  local-data: "_sip._udp.example.test. 300 IN SRV 10 60 5060 sip.example.test."
  local-data: "big.example.test. 300 IN TXT \"$(printf 'x%.0s' $(seq 250))\" \"$(printf 'y%.0s' $(seq 250))\" \"$(printf 'z%.0s' $(seq 250))\""
  local-data: "caa.example.test. 300 IN CAA 0 issue \"ca.example.test\""
  local-data-ptr: "192.0.2.80 www.example.test."
CONF
  unbound -c "$tmp/unbound.conf" >"$tmp/unbound.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do kdig +short +timeout=1 @127.0.0.1 -p 5399 www.example.test >/dev/null 2>&1 && break; sleep 0.2; done
  capture lo 'port 5399' "$tmp/dns.pcap"
  q() { kdig +timeout=2 +retry=0 -p 5399 "$@" >/dev/null 2>&1 || true; }
  q @127.0.0.1 www.example.test A
  q @127.0.0.1 www.example.test AAAA +dnssec
  q @127.0.0.1 alias.example.test A +nsid
  q @127.0.0.1 example.test MX +cookie
  q @127.0.0.1 example.test TXT +subnet=192.0.2.0/24
  q @127.0.0.1 example.test SOA +padding=64
  q @127.0.0.1 example.test NS +noedns
  q @127.0.0.1 missing.example.test A
  q @127.0.0.1 www.example.test MX
  q @127.0.0.1 big.example.test TXT +bufsize=512
  q @127.0.0.1 big.example.test TXT +bufsize=4096
  q @127.0.0.1 _sip._udp.example.test SRV +cd +ad
  q @127.0.0.1 caa.example.test CAA
  q @127.0.0.1 -x 192.0.2.80
  q @127.0.0.1 WwW.ExAmPlE.TeSt A +edns=1
  q @127.0.0.1 example.test ANY
  q @::1 www.example.test AAAA +subnet=2001:db8::/56
  q @127.0.0.1 www.example.test A +tcp +keepalive
  q @127.0.0.1 example.test CH TXT
  stop_capture
  mkdir -p "$corpus/dns"
  "$py" "$here/pcap_payloads.py" "$tmp/dns.pcap" udp "$corpus/dns" kdig-unbound
  # TCP: each direction is a stream of 2-byte-length-prefixed messages (RFC 7766); keep the messages.
  "$py" "$here/pcap_payloads.py" "$tmp/dns.pcap" tcp "$tmp/dnstcp" tcp >/dev/null
  "$py" - "$tmp/dnstcp" "$corpus/dns" <<'PY'
import os, sys
src, dst = sys.argv[1:3]
n = 0
for name in sorted(os.listdir(src)):
    data = open(os.path.join(src, name), 'rb').read()
    while len(data) >= 2:
        length = int.from_bytes(data[:2], 'big'); msg = data[2:2 + length]; data = data[2 + length:]
        n += 1; open(os.path.join(dst, f'kdig-unbound-tcp-{n:02}'), 'wb').write(msg)
PY
  # dnspython writes what kdig and unbound don't send: compression everywhere, negative answers with SOA,
  # a truncated answer, an NXDOMAIN with DNSSEC records, a query with several questions, a NOTIFY.
  "$py" "$here/dnspython_seeds.py" "$corpus/dns"
}

http() {
  # nginx as the origin, curl and wrk as clients, captured on loopback: requests and responses as sent.
  mkdir -p "$tmp/www"
  head -c 3000 /dev/urandom | base64 > "$tmp/www/index.html"
  cat > "$tmp/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $tmp;
  proxy_temp_path $tmp;
  fastcgi_temp_path $tmp;
  uwsgi_temp_path $tmp;
  scgi_temp_path $tmp;
  gzip on; gzip_min_length 1; gzip_types *;
  server {
    listen 127.0.0.1:8089;
    root $tmp/www;
    location /echo { return 200 "posted\n"; }
    location /redirect { return 301 /index.html; }
    location /missing { return 404; }
  }
}
CONF
  nginx -c "$tmp/nginx.conf" &
  pids+=($!)
  for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:8089/ && break; sleep 0.2; done
  capture lo 'tcp port 8089' "$tmp/http.pcap"
  local u=http://127.0.0.1:8089
  c() { curl -s -o /dev/null --max-time 3 "$@" || true; }
  c "$u/"
  c --compressed "$u/index.html"
  c -I "$u/"
  c -0 "$u/missing"
  c -d 'a=1&b=2' "$u/echo"
  c -H 'Transfer-Encoding: chunked' -d @"$tmp/www/index.html" "$u/echo"
  c -x "$u" http://example.test/path?q=1
  c -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$u/"
  c -H 'Expect: 100-continue' -d @"$tmp/www/index.html" "$u/echo"
  c -r 0-99 "$u/index.html"
  c -H 'If-None-Match: "x"' -H 'Cache-Control: no-cache' "$u/redirect"
  c -p -x "$u" http://example.test:443/   # CONNECT (nginx answers 400)
  wrk -t1 -c1 -d1s "$u/" >/dev/null 2>&1 || true
  stop_capture
  "$py" "$here/pcap_payloads.py" "$tmp/http.pcap" tcp "$tmp/httptcp" tcp >/dev/null
  # Requests and responses (each stream cut into heads; wrk's long stream keeps its first 4 KiB), and the
  # chunked bodies nginx sent (gzip) and curl uploaded.
  "$py" - "$tmp/httptcp" "$corpus" <<'PY'
import os, sys
src, corpus = sys.argv[1:3]
os.makedirs(f'{corpus}/http-head', exist_ok=True); os.makedirs(f'{corpus}/http-chunked', exist_ok=True)
n = 0
for name in sorted(os.listdir(src)):
    data = open(os.path.join(src, name), 'rb').read()[:4096]
    n += 1
    kind = 'response' if data.startswith(b'HTTP/') else 'request'
    open(f'{corpus}/http-head/curl-nginx-{kind}-{n:02}', 'wb').write(data)
    head, _, body = data.partition(b'\r\n\r\n')
    if b'chunked' in head.lower():
        open(f'{corpus}/http-chunked/curl-nginx-{kind}-{n:02}', 'wb').write(b'\x00' + body)
        open(f'{corpus}/http-chunked/curl-nginx-{kind}-{n:02}-split', 'wb').write(b'\x31' + body)
PY
}

wireguard() {
  # Two wireguard-go peers in namespaces joined by a veth: the handshake and data messages on the wire, and the
  # IP packets (ping, ping6, UDP, TCP) their TUN devices read.
  ip netns add fuzzseed-a; ip netns add fuzzseed-b
  ip link add fzs-a netns fuzzseed-a type veth peer name fzs-b netns fuzzseed-b
  ip -n fuzzseed-a addr add 192.0.2.1/24 dev fzs-a; ip -n fuzzseed-a link set fzs-a up; ip -n fuzzseed-a link set lo up
  ip -n fuzzseed-b addr add 192.0.2.2/24 dev fzs-b; ip -n fuzzseed-b link set fzs-b up; ip -n fuzzseed-b link set lo up
  wg genkey > "$tmp/a.key"; wg genkey > "$tmp/b.key"
  for side in a b; do
    ip netns exec "fuzzseed-$side" env WG_PROCESS_FOREGROUND=1 wireguard-go "wg$side" >"$tmp/wg-$side.log" 2>&1 &
    pids+=($!)
  done
  for _ in $(seq 50); do ip -n fuzzseed-b link show wgb >/dev/null 2>&1 && ip -n fuzzseed-a link show wga >/dev/null 2>&1 && break; sleep 0.1; done
  ip netns exec fuzzseed-a wg set wga private-key "$tmp/a.key" listen-port 51820 peer "$(wg pubkey < "$tmp/b.key")" endpoint 192.0.2.2:51820 allowed-ips 10.99.0.2/32,fd99::2/128
  ip netns exec fuzzseed-b wg set wgb private-key "$tmp/b.key" listen-port 51820 peer "$(wg pubkey < "$tmp/a.key")" endpoint 192.0.2.1:51820 allowed-ips 10.99.0.1/32,fd99::1/128
  ip -n fuzzseed-a addr add 10.99.0.1/24 dev wga; ip -n fuzzseed-a addr add fd99::1/64 dev wga; ip -n fuzzseed-a link set wga up
  ip -n fuzzseed-b addr add 10.99.0.2/24 dev wgb; ip -n fuzzseed-b addr add fd99::2/64 dev wgb; ip -n fuzzseed-b link set wgb up
  sleep 1
  ip netns exec fuzzseed-b tcpdump -i fzs-b -U -w "$tmp/wire.pcap" 'udp port 51820' 2>"$tmp/wire.log" &
  pids+=($!)
  ip netns exec fuzzseed-b tcpdump -i wgb -U -w "$tmp/tun.pcap" 2>"$tmp/tun.log" &
  pids+=($!)
  sleep 1
  ip netns exec fuzzseed-a ping -c 2 -W 2 10.99.0.2 >/dev/null || true
  ip netns exec fuzzseed-a ping -6 -c 2 -W 2 fd99::2 >/dev/null || true
  ip netns exec fuzzseed-b "$py" -c 'import socket
s = socket.socket(); s.setsockopt(1, 2, 1); s.bind(("0.0.0.0", 8080)); s.listen(); s.settimeout(3)
c, _ = s.accept(); c.recv(1000); c.sendall(b"HTTP/1.0 200 OK\r\n\r\nok\n"); c.close()' &
  sleep 0.3
  ip netns exec fuzzseed-a curl -s -o /dev/null --max-time 2 http://10.99.0.2:8080/ || true
  ip netns exec fuzzseed-a bash -c 'printf "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x04test\x00\x00\x01\x00\x01" > /dev/udp/10.99.0.2/53' || true
  ip netns exec fuzzseed-a bash -c 'echo six > /dev/udp/fd99::2/5353' || true
  sleep 1
  kill "${pids[-1]}" "${pids[-2]}"; wait "${pids[-1]}" "${pids[-2]}" 2>/dev/null || true
  "$py" "$here/pcap_payloads.py" "$tmp/wire.pcap" udp "$tmp/wire" wg >/dev/null
  "$py" "$here/pcap_payloads.py" "$tmp/tun.pcap" ip "$corpus/packet" wireguard-go-tun
  # The fuzz targets' framings (see their docs): wireguard [mode][datagram or inner packet]; dispatch
  # [mode][length][packet] with the destination moved onto the virtual IP and checksums fixed (mode 0x06).
  "$py" - "$tmp/wire" "$corpus/packet" "$corpus" <<'PY'
import os, sys
wire, packets, corpus = sys.argv[1:4]
os.makedirs(f'{corpus}/wireguard', exist_ok=True); os.makedirs(f'{corpus}/dispatch', exist_ok=True)
names = {1: 'initiation', 2: 'response', 3: 'cookie', 4: 'data'}
for i, name in enumerate(sorted(os.listdir(wire))):
    d = open(os.path.join(wire, name), 'rb').read()
    kind = names.get(d[0], 'other')
    open(f'{corpus}/wireguard/wireguard-go-{i:02}-{kind}', 'wb').write(b'\x00' + d)
    if d[0] in (1, 2):
        open(f'{corpus}/wireguard/wireguard-go-{i:02}-{kind}-mac1', 'wb').write(b'\x01' + bytes([d[0] - 1]) + d[1:])
    if d[0] == 4:
        open(f'{corpus}/wireguard/wireguard-go-{i:02}-{kind}-header', 'wb').write(b'\x03' + d[4:32])
for i, name in enumerate(sorted(os.listdir(packets))):
    p = open(os.path.join(packets, name), 'rb').read()
    open(f'{corpus}/wireguard/wireguard-go-inner-{i:02}', 'wb').write(b'\x02' + p)
    for mode in (0x00, 0x06, 0x0A, 0x03):
        open(f'{corpus}/dispatch/wireguard-go-tun-{i:02}-mode{mode:02x}', 'wb').write(bytes([mode]) + len(p).to_bytes(2, 'big') + p)
PY
}

uapi() {
  # What wg(8) writes to a UAPI socket, recorded by a socket that answers like wireguard-go.
  mkdir -p /var/run/wireguard "$corpus/uapi"
  "$py" - /var/run/wireguard/fzseed.sock "$corpus/uapi" <<'PY' &
import os, socket, sys
path, out = sys.argv[1:3]
if os.path.exists(path): os.unlink(path)
s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(4); s.settimeout(10)
n = 0
try:
    while True:
        c, _ = s.accept(); data = b''
        while not data.endswith(b'\n\n'):
            chunk = c.recv(65536)
            if not chunk: break
            data += chunk
        if not data:
            c.close(); continue
        n += 1; open(f'{out}/wg-{n:02}', 'wb').write(data)
        try:
            c.sendall((b'private_key=' + b'a8' * 32 + b'\nlisten_port=51820\n' if data.startswith(b'get=1') else b'') + b'errno=0\n\n')
        except OSError:
            pass
        c.close()
except socket.timeout:
    pass
finally:
    os.unlink(path)
PY
  pids+=($!)
  sleep 0.5
  local peer; peer=$(wg genkey | wg pubkey)
  wg genkey > "$tmp/k"; wg genpsk > "$tmp/psk"
  wg show fzseed >/dev/null 2>&1 || true
  wg set fzseed private-key "$tmp/k" listen-port 51999 fwmark 0x51 2>/dev/null || true
  wg set fzseed peer "$peer" preshared-key "$tmp/psk" endpoint 192.0.2.7:51820 persistent-keepalive 25 allowed-ips 10.5.0.0/24,fd05::/64 2>/dev/null || true
  wg set fzseed peer "$peer" endpoint [2001:db8::7]:51820 allowed-ips 10.6.0.0/16 2>/dev/null || true
  wg set fzseed peer "$peer" remove 2>/dev/null || true
  wg set fzseed listen-port 0 peer "$peer" allowed-ips '' 2>/dev/null || true
  printf '[Interface]\nPrivateKey = %s\n[Peer]\nPublicKey = %s\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = 192.0.2.8:51820\n' "$(cat "$tmp/k")" "$peer" > "$tmp/wg.conf"
  wg setconf fzseed "$tmp/wg.conf" 2>/dev/null || true
  wg syncconf fzseed "$tmp/wg.conf" 2>/dev/null || true
  wait "${pids[-1]}" 2>/dev/null || true
}

yaml() {
  # The shipped configuration and every YAML example in the documentation.
  mkdir -p "$corpus/yaml-config"
  cp "$root/gateway.yaml" "$corpus/yaml-config/gateway.yaml"
  "$py" - "$corpus/yaml-config" "$root/README.md" "$root"/docs/*.md <<'PY'
import re, sys
out, *docs = sys.argv[1:]
n = 0
for doc in docs:
    for block in re.findall(r'```yaml\n(.*?)```', open(doc).read(), re.S):
        n += 1
        open(f'{out}/{doc.split("/")[-1][:-3]}-{n:02}.yaml', 'w').write(block)
PY
}

for what in "${@:-dns http wireguard uapi yaml}"; do
  for w in $what; do "$w"; done
done
