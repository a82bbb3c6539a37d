#!/usr/bin/env bash
# scripts/soak.sh [MINUTES|600s] -- the soak test (issue 14): the published gateway serves DNS (host socket and the TUN's
# virtual IP), the HTTP proxy and WireGuard under steady load for MINUTES (default 10) while its config is edited
# every 30 s and a plugin folder is replaced every 2 min. It prints the failures and the gateway's memory over time
# and exits non-zero on any loss, on any live change that did not take effect, or on RSS growth over 10 % after
# the warm-up.
#
#   sudo scripts/soak.sh                 # 10 minutes, publishes the gateway first
#   sudo scripts/soak.sh 600s            # the same, the duration in seconds
#   sudo SOAK_SECONDS=60 EDIT_INTERVAL=12 SWAP_INTERVAL=15 scripts/soak.sh   # the end-to-end test's short run
#   sudo GATEWAY=/tmp/gw/gateway MAXQPS=8000 scripts/soak.sh 30
# On a shared machine run it under the benchmark lock: flock /tmp/gateway-bench.lock scripts/soak.sh
#
# What runs (all inside network namespaces this script creates; traffic goes only to loopback and to them):
#   sk-gw-PID   the gateway (TUN with 10.30.30.1/24 and the WireGuard address 10.99.0.1/24; dns-dot on
#               127.0.0.1:5301 and 10.30.30.30:53, http-proxy on 127.0.0.1:3128, wireguard on UDP 51820),
#               two equivalent unbound upstreams serving DoT (127.0.0.1:8530 "a", 127.0.0.1:8531 "b"; local data
#               only, no recursion), nginx (127.0.0.1:8000) as the HTTP origin, and every load client
#   sk-w1-PID   wireguard-go, tunnel address 10.99.0.2, the steady WireGuard peer (veth 192.168.241.0/24)
#   sk-w2-PID   wireguard-go, tunnel address 10.99.0.3, the peer that is added and removed (veth 192.168.242.0/24)
#
# Load (bounded by rate and by the run's deadline):
#   DNS    dnsperf at DNS_PERCENT (50) % of the maximum measured at start (or MAXQPS), split evenly between the
#          host socket and the virtual IP; dns-dot's cache is off, so every query goes to the current upstream.
#          Run in segments of REPORT_INTERVAL seconds so that lost queries and SERVFAILs are reported over time.
#   HTTP   curl through the proxy: BIG_MIB (16) MiB files rate-limited by the origin to BIG_RATE (4m) bytes/s,
#          always misses; and 1 MiB files in keep-alive batches of 10, half cache hits and half misses. Every body
#          is checked (status 200, size, SHA-256).
#   WG     ping every 50 ms from the gateway's namespace to 10.99.0.2 through the tunnel (every reply counted), and
#          an iperf3 TCP stream at WG_RATE (10M) bit/s in the same direction (it must finish).
# Live changes:
#   every EDIT_INTERVAL (30) s  gateway.yaml is rewritten (atomic rename) with: the DoT upstream swapped between
#          unbound a and b; the second WireGuard peer added or removed; http-proxy's denyClients toggled for
#          127.0.0.2/32 (no load client uses that address). Each must take effect: the reload is logged, a curl
#          from 127.0.0.2 gets 403/200 within 3 s, the peer answers a ping within 5 s of being added and stops
#          answering within 3 s of being removed (its losses while removed are the point, not counted), and the
#          new upstream gets at least 90 % of the upstream queries of the next interval.
#   every SWAP_INTERVAL (120) s a plugin folder is replaced in turn (SWAP_PLUGINS, default dns-dot, http-proxy): the
#          published folder is copied to staging as a new build and its plugin DLL renamed over the live one, so
#          the host's drop-in watcher swaps it; the old version must drain and unload (no leak, nothing refused).
# Verdict: exit 0 only with 0 lost/timed-out/non-NOERROR DNS queries, 0 broken transfers, 0 lost pings, the
#   iperf3 stream finished, every edit and swap effective, the gateway alive throughout, and RSS after the
#   warm-up (WARMUP_SECONDS, default 20 % of the run and at least 30 s) within RSS_LIMIT_PCT (10) % of its level
#   at the end of the warm-up (median of the warm-up's second half against the median of the run's last 20 %).
#   The last line is "soak: PASS ..." or "soak: FAIL <reasons>".
#
# Env: GATEWAY (published `gateway` to run; default: dotnet publish host into $SOAK_WORK/publish), SOAK_SECONDS,
#   SOAK_WORK (/tmp/gateway-soak), MAXQPS, DNS_PERCENT, MAX_SECONDS (5, the measurement), REPORT_INTERVAL (30),
#   EDIT_INTERVAL, SWAP_INTERVAL, SAMPLE_INTERVAL (5), WARMUP_SECONDS, RSS_LIMIT_PCT, BIG_MIB, BIG_RATE, WG_RATE,
#   WG_GO (wireguard-go binary; default ../shared/peers/bin/wireguard-go-modern when present, else Debian's).
# Processes are tracked by PID and stopped by PID (TERM, then KILL) from an EXIT trap, then anything left inside
# the namespaces, which are deleted (the approach of ../shared/peers/lib/common.sh, whose helpers are copied here).
set -uo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

# The duration: MINUTES as the issue names it (10), or with a unit: 600s, 10m. SOAK_SECONDS overrides both.
ARG="${1:-10}"
case "$ARG" in
    *[!0-9sm]* | "" ) echo "usage: $0 [MINUTES | SECONDSs | MINUTESm]  (default 10 minutes)" >&2; exit 2 ;;
    *s) DURATION="${ARG%s}" ;;
    *m) DURATION=$(( ${ARG%m} * 60 )) ;;
    *) DURATION=$(( ARG * 60 )) ;;
esac
[[ "$DURATION" =~ ^[0-9]+$ ]] || { echo "usage: $0 [MINUTES | SECONDSs | MINUTESm]" >&2; exit 2; }
DURATION="${SOAK_SECONDS:-$DURATION}"
REPORT_INTERVAL="${REPORT_INTERVAL:-30}"
EDIT_INTERVAL="${EDIT_INTERVAL:-30}"
SWAP_INTERVAL="${SWAP_INTERVAL:-120}"
SAMPLE_INTERVAL="${SAMPLE_INTERVAL:-5}"
WARMUP_SECONDS="${WARMUP_SECONDS:-$(( DURATION / 5 > 30 ? DURATION / 5 : 30 ))}"
RSS_LIMIT_PCT="${RSS_LIMIT_PCT:-10}"
DNS_PERCENT="${DNS_PERCENT:-50}"
MAX_SECONDS="${MAX_SECONDS:-5}"
BIG_MIB="${BIG_MIB:-16}"
BIG_RATE="${BIG_RATE:-4m}"
WG_RATE="${WG_RATE:-10M}"
SOAK_WORK="${SOAK_WORK:-/tmp/gateway-soak}"
((DURATION >= 30)) || { echo "soak: SOAK_SECONDS must be at least 30" >&2; exit 2; }
((WARMUP_SECONDS < DURATION)) || { echo "soak: the warm-up ($WARMUP_SECONDS s) must be shorter than the run" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "soak: run as root (it creates network namespaces and a TUN)" >&2; exit 2; }

# Never let a proxy variable from the environment redirect our curl.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

GWNS="sk-gw-$$" W1NS="sk-w1-$$" W2NS="sk-w2-$$"
TUN="skgw$$"                   # the UAPI socket /var/run/wireguard/<name>.sock is shared by all namespaces
W1TUN="skwa$$" W2TUN="skwb$$"
DNS_PORT=5301 PROXY_PORT=3128 ORIGIN_PORT=8000 WG_PORT=51820
UP_A_DOT=8530 UP_A_PLAIN=5300 UP_B_DOT=8531 UP_B_PLAIN=5310
VIP=10.30.30.30

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
in_gw() { ip netns exec "$GWNS" "$@"; }

# ------------------------------------------ process bookkeeping (from ../shared/peers/lib/common.sh) --
PIDS=() PIDNAMES=() PIDSTART=() NETNS=()
# shellcheck disable=SC2086
starttime() { local s; s="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0; s="${s##*) }"; set -- $s; echo "${20}"; }
track() { PIDS+=("$1"); PIDNAMES+=("$2"); PIDSTART+=("$(starttime "$1")"); }
alive() {
    [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null || return 1
    local st; st="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    st="${st##*) }"; [[ "${st:0:1}" != "Z" ]]
}
# kill_pid PID LABEL [WAIT_S] [STARTTIME] -- TERM, then KILL; only this PID, only if it is still ours
kill_pid() {
    local pid="$1" label="$2" w="${3:-5}" st="${4:-}" i
    alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
    if [[ -n "$st" && "$(starttime "$pid")" != "$st" ]]; then return 0; fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < w * 10; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then log "pid $pid ($label) did not stop on TERM, sending KILL"; kill -KILL "$pid" 2>/dev/null; fi
    wait "$pid" 2>/dev/null || true
}
CLEANED=0
cleanup() {
    local rc=$? i ns p
    ((CLEANED)) && return 0
    CLEANED=1
    set +e
    trap '' INT TERM
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill_pid "${PIDS[$i]}" "${PIDNAMES[$i]}" 10 "${PIDSTART[$i]}"; done
    for ns in "${NETNS[@]}"; do
        # anything still running inside a namespace we created was started by us (a dnsperf of a loop, say)
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill_pid "$p" "in-netns:$ns"; done
        ip netns del "$ns" 2>/dev/null
    done
    return $rc
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM
trap 'log "hangup"; exit 129' HUP

netns_add() {
    ip netns list | awk '{print $1}' | grep -qx "$1" && die "netns $1 exists already"
    ip netns add "$1" || die "cannot create netns $1"
    NETNS+=("$1")
    ip -n "$1" link set lo up
}

# ------------------------------------------------------------------------------------------ setup --
need=(dnsperf:dnsperf unbound:unbound unbound:unbound-control knot-dnsutils:kdig nginx:nginx curl:curl
      wireguard-go:wireguard-go wireguard-tools:wg iperf3:iperf3 iputils-ping:ping openssl:openssl iproute2:ip)
missing=()
for spec in "${need[@]}"; do command -v "${spec#*:}" >/dev/null 2>&1 || missing+=("${spec%%:*}"); done
if ((${#missing[@]})); then
    log "installing ${missing[*]} (the stock services are not started)"
    made_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1; fi
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2
    rc=$?
    ((made_policy)) && rm -f /usr/sbin/policy-rc.d
    ((rc == 0)) || die "apt-get install failed for ${missing[*]}"
fi

WG_GO="${WG_GO:-}"
if [[ -z "$WG_GO" ]]; then
    for c in "$REPO/../shared/peers/bin/wireguard-go-modern" /work/shared/peers/bin/wireguard-go-modern; do
        [[ -x "$c" ]] && { WG_GO="$(cd "$(dirname "$c")" && pwd)/$(basename "$c")"; break; }
    done
    WG_GO="${WG_GO:-wireguard-go}"
fi

rm -rf "$SOAK_WORK"
mkdir -p "$SOAK_WORK"/{www/slow,dl,staging,up-a,up-b,nginx,w1,w2,dns} || die "cannot create $SOAK_WORK"
W="$(cd "$SOAK_WORK" && pwd)"

if [[ -n "${GATEWAY:-}" ]]; then
    read -ra GW_CMD <<<"$GATEWAY"
    PUBLISHED="$(cd "$(dirname "${GW_CMD[-1]}")" && pwd)"
else
    log "publishing the gateway (dotnet publish host -c Release -o $W/publish)"
    dotnet publish host -c Release -o "$W/publish" --nologo -v q >"$W/publish.log" 2>&1 || { tail -20 "$W/publish.log" >&2; die "dotnet publish failed"; }
    PUBLISHED="$W/publish"
    GW_CMD=("$PUBLISHED/gateway")
fi
PLUGIN_IDS=(dns-dot http-proxy wireguard)
# The plugins whose folders are replaced, in turn. Not wireguard by default: its swap works (the old version hands
# over its UDP port and UAPI socket, the new one handshakes again), but the tunnel goes unanswered for about a second
# meanwhile, which the 0-lost-pings verdict would count. SWAP_PLUGINS="dns-dot http-proxy wireguard" includes it.
read -ra SWAP_IDS <<<"${SWAP_PLUGINS:-dns-dot http-proxy}"
for id in "${PLUGIN_IDS[@]}"; do [[ -d "$PUBLISHED/plugins/$id" ]] || die "no plugins/$id next to the gateway ($PUBLISHED)"; done
# The gateway loads its plugins from a copy of its own: the swaps replace files there, never in the published tree.
cp -a "$PUBLISHED/plugins" "$W/plugins"
# the plugin's main assembly: the one its deps.json is named after (dns-dot also ships ...DnsDot.Compiler.dll)
plugin_dll() { local f; for f in "$1"/Gateway.Plugins.*.deps.json; do [[ -f "${f%.deps.json}.dll" ]] && { echo "${f%.deps.json}.dll"; return 0; }; done; return 1; }
for id in "${PLUGIN_IDS[@]}"; do plugin_dll "$W/plugins/$id" >/dev/null || die "no Gateway.Plugins.*.dll in plugins/$id"; done

# --- namespaces: the gateway's, and one per wireguard-go peer joined to it by a veth pair
netns_add "$GWNS"; netns_add "$W1NS"; netns_add "$W2NS"
ip -n "$GWNS" link add skv1 type veth peer name skv0 netns "$W1NS" || die "veth to $W1NS"
ip -n "$GWNS" link add skv2 type veth peer name skv0 netns "$W2NS" || die "veth to $W2NS"
ip -n "$GWNS" addr add 192.168.241.1/24 dev skv1; ip -n "$GWNS" link set skv1 up
ip -n "$GWNS" addr add 192.168.242.1/24 dev skv2; ip -n "$GWNS" link set skv2 up
ip -n "$W1NS" addr add 192.168.241.2/24 dev skv0; ip -n "$W1NS" link set skv0 up
ip -n "$W2NS" addr add 192.168.242.2/24 dev skv0; ip -n "$W2NS" link set skv0 up
in_gw ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true   # the ACL probe's source (127/8 is local anyway)

# --- the DNS upstreams: two equivalent unbound instances serving DoT from local data only
CA="$W/ca.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$W/ca.key" -out "$CA" -days 30 \
    -subj "/CN=soak test CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null \
    || die "CA generation failed"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$W/server.key" -out "$W/server.csr" -subj "/CN=upstream.test" 2>/dev/null \
    || die "server key generation failed"
printf '%s\n' "subjectAltName=DNS:upstream.test" "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" > "$W/server.ext"
openssl x509 -req -in "$W/server.csr" -CA "$CA" -CAkey "$W/ca.key" -CAcreateserial -out "$W/server.pem" -days 30 \
    -extfile "$W/server.ext" 2>/dev/null || die "server certificate signing failed"
NAMES=5000
for ((i = 1; i <= NAMES; i++)); do
    printf 'local-data: "n%d.bench.test. 3600 IN A 198.18.%d.%d"\n' "$i" $((i / 256 % 256)) $((i % 256))
done > "$W/zone.conf"
for ((i = 1; i <= NAMES; i++)); do printf 'n%d.bench.test A\n' "$i"; done > "$W/dns/names.txt"

UNBOUND_PID=()
start_unbound() {   # NAME DOT_PORT PLAIN_PORT
    local d="$W/up-$1"
    cat > "$d/unbound.conf" <<EOF
server:
    verbosity: 0
    num-threads: 1
    interface: 127.0.0.1@$3
    interface: 127.0.0.1@$2
    port: $3
    tls-port: $2
    tls-service-key: "$W/server.key"
    tls-service-pem: "$W/server.pem"
    do-ip4: yes
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "$d"
    pidfile: "$d/unbound.pid"
    use-syslog: no
    logfile: "$d/unbound.log"
    module-config: "iterator"
    outgoing-interface: 127.0.0.1
    do-not-query-localhost: yes
    incoming-num-tcp: 512
    tcp-idle-timeout: 30000
    ratelimit: 0
    ip-ratelimit: 0
    local-zone: "." static
    local-zone: "test." static
    local-data: "test. 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60"
    local-data: "test. 3600 IN NS ns.test."
    include: "$W/zone.conf"
remote-control:
    control-enable: yes
    control-interface: "$d/unbound.ctl"
    control-use-cert: no
EOF
    unbound-checkconf "$d/unbound.conf" >/dev/null || die "unbound-checkconf failed for $d/unbound.conf"
    ip netns exec "$GWNS" unbound -d -c "$d/unbound.conf" >"$d/stdout.log" 2>&1 </dev/null &
    track $! "unbound-$1"
    UNBOUND_PID+=($!)
}
# up_queries NAME -- queries unbound NAME answered so far
up_queries() { unbound-control -c "$W/up-$1/unbound.conf" stats_noreset 2>/dev/null | awk -F= '$1=="total.num.queries"{print $2; exit}'; }
start_unbound a "$UP_A_DOT" "$UP_A_PLAIN"
start_unbound b "$UP_B_DOT" "$UP_B_PLAIN"

# --- the HTTP origin
head -c $((BIG_MIB * 1048576)) /dev/urandom > "$W/www/slow/big.bin"
head -c 1048576 /dev/urandom > "$W/www/1m.bin"
head -c 1024 /dev/urandom > "$W/www/1k.bin"
BIG_SHA="$(sha256sum < "$W/www/slow/big.bin" | cut -c1-64)"
SMALL_SHA="$(sha256sum < "$W/www/1m.bin" | cut -c1-64)"
cat > "$W/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
user root;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path $W/nginx/client_body;
    proxy_temp_path $W/nginx/proxy;
    fastcgi_temp_path $W/nginx/fastcgi;
    uwsgi_temp_path $W/nginx/uwsgi;
    scgi_temp_path $W/nginx/scgi;
    server {
        listen 127.0.0.1:$ORIGIN_PORT backlog=512;
        root $W/www;
        location / { add_header Cache-Control "max-age=600"; }
        location /slow/ { limit_rate $BIG_RATE; add_header Cache-Control "no-store"; }
    }
}
EOF
in_gw nginx -t -q -p "$W/nginx/" -e "$W/nginx/error.log" -c "$W/nginx/nginx.conf" >"$W/nginx/check.log" 2>&1 \
    || { cat "$W/nginx/check.log" >&2; die "nginx config invalid"; }
ip netns exec "$GWNS" nginx -p "$W/nginx/" -e "$W/nginx/error.log" -c "$W/nginx/nginx.conf" >"$W/nginx/stdout.log" 2>&1 </dev/null &
track $! nginx

# --- the WireGuard peers (wireguard-go in their namespaces) and the gateway's key
umask 077
wg genkey > "$W/gw.key"; GW_PUB="$(wg pubkey < "$W/gw.key")"
wg genpsk > "$W/psk"; PSK="$(cat "$W/psk")"
umask 022
start_wg_peer() {   # NS TUN DIR LISTEN_PORT TUNNEL_ADDR GW_VETH_ADDR
    local ns="$1" tun="$2" d="$3" i
    wg genkey > "$d/key"; chmod 600 "$d/key"; wg pubkey < "$d/key" > "$d/pub"
    ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error "$WG_GO" -f "$tun" >"$d/wireguard-go.log" 2>&1 </dev/null &
    track $! "wireguard-go-$tun"
    for ((i = 0; i < 100; i++)); do [[ -S "/var/run/wireguard/$tun.sock" ]] && break; sleep 0.1; done
    ip netns exec "$ns" wg set "$tun" listen-port "$4" private-key "$d/key" peer "$GW_PUB" preshared-key "$W/psk" \
        endpoint "$6:$WG_PORT" allowed-ips 10.99.0.1/32 || die "wg set $tun failed: $(cat "$d/wireguard-go.log")"
    ip -n "$ns" addr add "$5/24" dev "$tun" && ip -n "$ns" link set "$tun" mtu 1420 up || die "cannot bring $tun up"
}
start_wg_peer "$W1NS" "$W1TUN" "$W/w1" 51821 10.99.0.2 192.168.241.1
start_wg_peer "$W2NS" "$W2TUN" "$W/w2" 51822 10.99.0.3 192.168.242.1
W1_PUB="$(cat "$W/w1/pub")" W2_PUB="$(cat "$W/w2/pub")"

# --- the gateway
CFG="$W/gateway.yaml"
UPSTREAM=a WG2=on ACL=off   # the state the edits flip
write_config() {
    local port=$UP_A_DOT deny="" peer2=""
    [[ "$UPSTREAM" == b ]] && port=$UP_B_DOT
    [[ "$ACL" == on ]] && deny='"127.0.0.2/32"'
    [[ "$WG2" == on ]] && peer2="    - { publicKey: \"$W2_PUB\", presharedKey: \"$PSK\", endpoint: \"192.168.242.2:51822\", allowedIps: [\"10.99.0.3/32\"] }"
    cat > "$CFG.tmp" <<EOF
# written by scripts/soak.sh: upstream $UPSTREAM, second WireGuard peer $WG2, ACL $ACL
host:
  plugins: ["$W/plugins"]
  tun: { enabled: true, name: "$TUN", addresses: ["10.30.30.1/24", "10.99.0.1/24"], mtu: 1420 }
dns-dot:
  listen: ["127.0.0.1:$DNS_PORT"]
  virtual: ["$VIP:53"]
  upstreams:
    - { address: "127.0.0.1:$port", tlsName: "upstream.test", caFile: "$CA" }
  cache: { enabled: false }
http-proxy:
  listen: ["127.0.0.1:$PROXY_PORT"]
  denyClients: [$deny]
wireguard:
  privateKeyFile: "$W/gw.key"
  listenPort: $WG_PORT
  peers:
    - { publicKey: "$W1_PUB", presharedKey: "$PSK", endpoint: "192.168.241.2:51821", allowedIps: ["10.99.0.2/32"] }
$peer2
EOF
    mv -f "$CFG.tmp" "$CFG"
}
write_config
GWLOG="$W/gateway.log"
ip netns exec "$GWNS" "${GW_CMD[@]}" run --config "$CFG" >"$GWLOG" 2>&1 </dev/null &
GW_PID=$!
track "$GW_PID" gateway
count() { grep -cF -- "$1" "$GWLOG" 2>/dev/null || true; }
for ((i = 0; i < 1200; i++)); do
    [[ "$(count 'gateway ready')" -gt 0 ]] && break
    alive "$GW_PID" || { tail -30 "$GWLOG" >&2; die "the gateway exited during start-up"; }
    sleep 0.1
done
[[ "$(count 'gateway ready')" -gt 0 ]] || { tail -30 "$GWLOG" >&2; die "the gateway did not say 'gateway ready' within 120 s"; }
in_gw ip route get "$VIP" | grep -q "dev $TUN" || die "the route to $VIP does not go through $TUN"
in_gw ip route get 10.99.0.2 | grep -q "dev $TUN" || die "the route to 10.99.0.2 does not go through $TUN"

# --- checks before any load: each path answers once
wait_until() {   # SECONDS CMD... -- retry CMD every 0.2 s until it succeeds or SECONDS pass
    local end=$(( $(date +%s%N) + $1 * 1000000000 )); shift
    while :; do "$@" >/dev/null 2>&1 && return 0; (( $(date +%s%N) >= end )) && return 1; sleep 0.2; done
}
dns_ok() { [[ "$(in_gw kdig @"$1" -p "$2" +short +time=2 +retry=0 n1.bench.test A 2>/dev/null)" == 198.18.0.1 ]]; }
http_code() {   # SOURCE URL -- the status code of a GET through the proxy from SOURCE
    in_gw curl -s --interface "$1" -x "http://127.0.0.1:$PROXY_PORT" --max-time 5 -o /dev/null -w '%{http_code}' "$2" 2>/dev/null
}
http_is() { [[ "$(http_code "$1" "$2")" == "$3" ]]; }
# Tunnel traffic leaves from the gateway's WireGuard address explicitly (-I/-B 10.99.0.1): without it the kernel
# picks 10.30.30.1, because the gateway's per-peer routes (table 0x4757) carry no preferred source and 10.30.30.1 is
# the TUN's first address, and wireguard-go (allowed-ips 10.99.0.1/32) rightly drops that. (Reported; host/Tun.)
WG_SRC=10.99.0.1
ping_ok() { in_gw ping -n -I "$WG_SRC" -c 1 -W 1 "$1" >/dev/null 2>&1; }
wait_until 30 dns_ok 127.0.0.1 "$DNS_PORT" || die "no answer from dns-dot on 127.0.0.1:$DNS_PORT"
wait_until 30 dns_ok "$VIP" 53 || die "no answer from dns-dot on $VIP:53 (through the TUN)"
wait_until 30 http_is 127.0.0.1 "http://127.0.0.1:$ORIGIN_PORT/1k.bin" 200 || die "no 200 through the proxy"
wait_until 30 ping_ok 10.99.0.2 || die "10.99.0.2 (wireguard-go) does not answer through the tunnel"
wait_until 30 ping_ok 10.99.0.3 || die "10.99.0.3 (second wireguard-go) does not answer through the tunnel"
log "gateway pid $GW_PID ready ($(head -c 200 <<<"${GW_CMD[*]}")); wireguard-go: $WG_GO; work folder $W"

# --- the DNS rate: half the maximum, split between the two paths
dnsperf_field() { awk -v k="$2" '$0 ~ "^ *"k":" { sub(/^[^:]*: */, ""); split($0, a, " "); print a[1]; exit }' "$1"; }
if [[ -z "${MAXQPS:-}" ]]; then
    in_gw timeout $((MAX_SECONDS + 30)) dnsperf -s 127.0.0.1 -p "$DNS_PORT" -d "$W/dns/names.txt" -l "$MAX_SECONDS" -c 4 -q 200 -t 5 \
        >"$W/dns/max.txt" 2>&1 || die "the dnsperf measurement failed: $(tail -3 "$W/dns/max.txt")"
    MAXQPS="$(dnsperf_field "$W/dns/max.txt" 'Queries per second' | cut -d. -f1)"
    [[ "$MAXQPS" =~ ^[0-9]+$ && "$MAXQPS" -gt 0 ]] || die "could not read the maximum from $W/dns/max.txt"
    log "measured maximum: $MAXQPS queries/s through the host socket ($MAX_SECONDS s, cache off)"
fi
DNS_RATE=$(( MAXQPS * DNS_PERCENT / 100 / 2 ))
((DNS_RATE > 0)) || DNS_RATE=1
log "DNS load: $DNS_RATE queries/s on 127.0.0.1:$DNS_PORT and $DNS_RATE on $VIP:53 ($DNS_PERCENT % of $MAXQPS)"

# ------------------------------------------------------------------------------------------- load --
# UDP counters of the gateway's namespace (InErrors RcvbufErrors): a query the kernel dropped before the gateway read it
udp_drops() { ip netns exec "${1:-$GWNS}" awk '$1=="Udp:" && $2 ~ /^[0-9]/ { print $4, $6; exit }' /proc/net/snmp; }
read -r udp_inerr0 udp_rcvbuf0 <<<"$(udp_drops)"
# packets the kernel could not queue to the TUN (the gateway did not read it fast enough)
tun_drops() { ip netns exec "$GWNS" cat "/sys/class/net/$TUN/statistics/tx_dropped" 2>/dev/null || echo 0; }
tun_drops0="$(tun_drops)"
read -r _ w1_rcvbuf0 <<<"$(udp_drops "$W1NS")"
T0="$(date +%s)"
reloads_t0="$(count 'config reloaded from')"
END=$((T0 + DURATION))
# dns_loop LABEL ADDR PORT -- consecutive dnsperf segments until END; one TSV line per segment:
# end_time sent completed lost noerror servfail other_rcodes
dns_loop() {
    local label="$1" addr="$2" port="$3" i=0 left seg out
    while :; do
        left=$((END - $(date +%s)))
        ((left >= 2)) || break
        seg=$((left < REPORT_INTERVAL ? left : REPORT_INTERVAL))
        out="$W/dns/$label.$i.txt"
        ip netns exec "$GWNS" timeout $((seg + 60)) dnsperf -s "$addr" -p "$port" -d "$W/dns/names.txt" -l "$seg" -Q "$DNS_RATE" \
            -c 2 -q 500 -t 5 >"$out" 2>&1
        awk -v t="$(date +%s)" '
            /Queries sent:/ { sent = $3 } /Queries completed:/ { done = $3 } /Queries lost:/ { lost = $3 }
            /Response codes:/ { s = $0; sub(/.*Response codes: */, "", s); n = split(s, parts, ",")
                for (j = 1; j <= n; j++) { split(parts[j], kv, " "); if (kv[1] == "NOERROR") ok += kv[2]; else if (kv[1] == "SERVFAIL") sf += kv[2]; else if (kv[1] != "") other += kv[2] } }
            END { if (sent == "") { sent = 0; done = 0; lost = "error" } printf "%s\t%s\t%s\t%s\t%d\t%d\t%d\n", t, sent, done, lost, ok, sf, other }' \
            "$out" >>"$W/dns/$label.tsv"
        i=$((i + 1))
    done
}
# http_loop KIND -- downloads through the proxy until END; one line per transfer: time ok|broken detail
http_loop() {
    local kind="$1" i=0 n j code size sha args url
    while (( $(date +%s) < END - 2 )); do
        if [[ "$kind" == big ]]; then
            n=1; args=(-o "$W/dl/big.0" "http://127.0.0.1:$ORIGIN_PORT/slow/big.bin?i=$i")
        else
            n=10; args=()
            for ((j = 0; j < n; j++)); do
                if ((j % 2)); then url="http://127.0.0.1:$ORIGIN_PORT/1m.bin"; else url="http://127.0.0.1:$ORIGIN_PORT/1m.bin?i=$i-$j"; fi
                args+=(-o "$W/dl/small.$j" "$url")
            done
        fi
        rm -f "$W"/dl/"$kind".*
        ip netns exec "$GWNS" curl -sS -x "http://127.0.0.1:$PROXY_PORT" --max-time 120 -w '%{http_code} %{size_download}\n' \
            "${args[@]}" >"$W/dl/$kind.out" 2>"$W/dl/$kind.err"
        for ((j = 0; j < n; j++)); do
            read -r code size < <(sed -n "$((j + 1))p" "$W/dl/$kind.out")
            local f="$W/dl/$kind.$j" want="$SMALL_SHA" wsize=1048576
            [[ "$kind" == big ]] && { f="$W/dl/big.0"; want="$BIG_SHA"; wsize=$((BIG_MIB * 1048576)); }
            sha="$(sha256sum < "$f" 2>/dev/null | cut -c1-64)"
            if [[ "$code" == 200 && "$size" == "$wsize" && "$sha" == "$want" ]]; then
                printf '%s\tok\t%s\t%s\n' "$(date +%s)" "$kind" "$size"
            else
                printf '%s\tbroken\t%s #%s.%s code=%s size=%s sha=%s err=%s\n' "$(date +%s)" "$kind" "$i" "$j" "${code:-none}" \
                    "${size:-none}" "${sha:0:12}" "$(head -c 200 "$W/dl/$kind.err" | tr '\n' ' ')"
            fi
        done >>"$W/http-$kind.tsv"
        i=$((i + 1))
        [[ "$kind" == small ]] && sleep 0.2
    done
}
sampler() {   # one line every SAMPLE_INTERVAL: seconds_since_T0 rss_kB threads
    while (( $(date +%s) <= END )); do
        alive "$GW_PID" || break
        awk -v t=$(( $(date +%s) - T0 )) '/^VmRSS:/ { r = $2 } /^Threads:/ { th = $2 } END { printf "%d\t%d\t%d\n", t, r, th }' \
            "/proc/$GW_PID/status" >>"$W/rss.tsv"
        sleep "$SAMPLE_INTERVAL"
    done
}

dns_loop socket 127.0.0.1 "$DNS_PORT" & track $! dns-socket-loop
dns_loop tun "$VIP" 53 & track $! dns-tun-loop
http_loop big & track $! http-big-loop
http_loop small & track $! http-small-loop
sampler & track $! sampler
PING_N=$(( (DURATION - 5) * 20 ))
ip netns exec "$GWNS" ping -n -I "$WG_SRC" -i 0.05 -W 2 -c "$PING_N" 10.99.0.2 >"$W/ping.txt" 2>&1 &
PING_PID=$!; track "$PING_PID" ping
ip netns exec "$W1NS" iperf3 -s -1 -B 10.99.0.2 >"$W/iperf3-server.txt" 2>&1 &
track $! iperf3-server
sleep 0.5
ip netns exec "$GWNS" iperf3 -B "$WG_SRC" -c 10.99.0.2 -t $((DURATION - 5)) -b "$WG_RATE" -J >"$W/iperf3.json" 2>"$W/iperf3.err" &
IPERF_PID=$!; track "$IPERF_PID" iperf3-client

# ---------------------------------------------------------------------------------- live changes --
EDITS=0 EDIT_FAILS=() SWAPS=0 SWAP_FAILS=() SWAP_PENDING=()
UPCHECK_PENDING=""   # "upstream a_count b_count" recorded at the last swap of the upstream
note_fail() { log "FAIL: $*"; EDIT_FAILS+=("$*"); }
reloaded_since() { [[ "$(count 'config reloaded from')" -gt "$1" ]]; }

edit_config() {
    local t=$(( $(date +%s) - T0 )) reloads a b code want
    # the upstream that served since the previous edit must have taken (nearly) all of that interval's queries
    a="$(up_queries a)" b="$(up_queries b)"
    if [[ -n "$UPCHECK_PENDING" ]]; then
        read -r cur a0 b0 <<<"$UPCHECK_PENDING"
        local da=$((a - a0)) db=$((b - b0)) mine other
        if [[ "$cur" == a ]]; then mine=$da other=$db; else mine=$db other=$da; fi
        if (( mine + other == 0 || mine * 100 < (mine + other) * 90 )); then
            note_fail "t=${t}s: upstream $cur got $mine of $((mine + other)) upstream queries after being switched to"
        fi
    fi
    [[ "$UPSTREAM" == a ]] && UPSTREAM=b || UPSTREAM=a
    [[ "$WG2" == on ]] && WG2=off || WG2=on
    [[ "$ACL" == on ]] && ACL=off || ACL=on
    reloads="$(count 'config reloaded from')"
    write_config
    EDITS=$((EDITS + 1))
    local t0; t0="$(date +%s%N)"
    wait_until 10 reloaded_since "$reloads" || note_fail "t=${t}s: edit $EDITS not reloaded within 10 s"
    # counted from the reload on: what the old upstream answers after it is what was already in flight
    UPCHECK_PENDING="$UPSTREAM $(up_queries a) $(up_queries b)"
    [[ "$ACL" == on ]] && want=403 || want=200
    wait_until 3 http_is 127.0.0.2 "http://127.0.0.1:$ORIGIN_PORT/1k.bin" "$want" \
        || note_fail "t=${t}s: edit $EDITS: a client at 127.0.0.2 got $(http_code 127.0.0.2 "http://127.0.0.1:$ORIGIN_PORT/1k.bin"), not $want, 3 s after denyClients was turned $ACL"
    if [[ "$WG2" == on ]]; then
        wait_until 5 ping_ok 10.99.0.3 || note_fail "t=${t}s: edit $EDITS: peer 10.99.0.3 added but it did not answer within 5 s"
    else
        local gone=1 k
        sleep 3
        for k in 1 2 3; do ping_ok 10.99.0.3 && gone=0; done
        ((gone)) || note_fail "t=${t}s: edit $EDITS: peer 10.99.0.3 removed but it still answers 3 s later"
    fi
    log "edit $EDITS at ${t}s: upstream $UPSTREAM, peer 10.99.0.3 $WG2, denyClients 127.0.0.2 $ACL ($(( ($(date +%s%N) - t0) / 1000000 )) ms to check)"
}

swap_plugin() {
    local id="${SWAP_IDS[$((SWAPS % ${#SWAP_IDS[@]}))]}" t=$(( $(date +%s) - T0 )) dll name
    SWAPS=$((SWAPS + 1))
    dll="$(plugin_dll "$W/plugins/$id")"; name="$(basename "$dll")"
    # a new build: a fresh copy of the published folder (new times) staged on the same file system, then one rename
    rm -rf "$W/staging/$id"
    cp -r "$PUBLISHED/plugins/$id" "$W/staging/$id"
    touch "$W/staging/$id/$name"
    mv -f "$W/staging/$id/$name" "$dll"
    # what must follow: the new version starts, the old drains and unloads (checked at the end: swap_verdict)
    SWAP_PENDING+=("$id $(count "plugin $id: started") $(count "plugin $id: unloaded (load context collected)") $t")
    log "swap $SWAPS at ${t}s: plugins/$id/$name replaced by a new build"
}
swap_verdict() {   # every swap must have started a new version and unloaded the old one; nothing refused or leaked
    local entry id s0 u0 t starts unloads k
    declare -A need_starts=() need_unloads=() base_s=() base_u=()
    for entry in "${SWAP_PENDING[@]}"; do
        read -r id s0 u0 t <<<"$entry"
        [[ -z "${base_s[$id]:-}" ]] && { base_s[$id]=$s0; base_u[$id]=$u0; }
        need_starts[$id]=$(( ${need_starts[$id]:-0} + 1 )); need_unloads[$id]=$(( ${need_unloads[$id]:-0} + 1 ))
    done
    # the last swap's old version may still be draining (up to host.drainTimeoutSeconds, 30 s) or being collected
    for ((k = 0; k < 90; k++)); do
        local short=0
        for id in "${!need_starts[@]}"; do
            (( $(count "plugin $id: unloaded (load context collected)") - base_u[$id] >= need_unloads[$id] )) || short=1
        done
        ((short)) || break
        sleep 1
    done
    for id in "${!need_starts[@]}"; do
        starts=$(( $(count "plugin $id: started") - base_s[$id] ))
        unloads=$(( $(count "plugin $id: unloaded (load context collected)") - base_u[$id] ))
        ((starts >= need_starts[$id])) || SWAP_FAILS+=("$id: $starts new version(s) started for ${need_starts[$id]} swap(s)")
        ((unloads >= need_unloads[$id])) || SWAP_FAILS+=("$id: $unloads old version(s) unloaded for ${need_unloads[$id]} swap(s)")
    done
    local bad
    bad="$(grep -E 'leak|the new build was not taken|start failed|not loaded:|config reload rejected|configuration rejected' "$GWLOG" | head -5)"
    [[ -z "$bad" ]] || SWAP_FAILS+=("gateway log: $(tr '\n' '|' <<<"$bad")")
}

# ------------------------------------------------------------------------------------- reporting --
dns_totals() {   # sent lost(+errors) servfail other, both paths
    cat "$W"/dns/socket.tsv "$W"/dns/tun.tsv 2>/dev/null | awk -F'\t' '
        { sent += $2; if ($4 == "error") err++; else lost += $4; sf += $6; other += $7 }
        END { printf "%d %d %d %d %d\n", sent, lost, sf, other, err }'
}
http_totals() {   # intact broken bytes_checked
    cat "$W"/http-*.tsv 2>/dev/null | awk -F'\t' '$2=="ok"{ok++; by += $4} $2=="broken"{b++} END{printf "%d %d %.0f\n", ok, b, by}'
}
ping_totals() {   # replies so far, and sequence numbers missing among the replies so far
    awk '/bytes from/ { for (i = 1; i <= NF; i++) if ($i ~ /^icmp_seq=/) { s = substr($i, 10) + 0; if (!(s in seen)) { seen[s] = 1; n++ } if (s > max) max = s } }
         END { printf "%d %d\n", n, (n ? max - n : 0) }' "$W/ping.txt" 2>/dev/null
}
header() {
    printf '%6s %9s %6s %8s %6s %7s %6s %8s %7s %5s %5s %5s %8s %7s\n' \
        t_s dns_sent lost servfl other http_ok broken wg_reply wg_lost edits fails swaps rss_MiB threads
}
report() {
    local t=$(( $(date +%s) - T0 )) rss_kb threads
    read -r d_sent d_lost d_sf d_other d_err <<<"$(dns_totals)"
    read -r h_ok h_broken _ <<<"$(http_totals)"
    read -r p_rep p_lost <<<"$(ping_totals)"
    read -r _ rss_kb threads < <(tail -1 "$W/rss.tsv" 2>/dev/null || true)
    printf '%6d %9d %6d %8d %6d %7d %6d %8d %7d %5d %5d %5d %8.1f %7d\n' "$t" "$d_sent" "$((d_lost + d_err))" "$d_sf" "$d_other" \
        "$h_ok" "$h_broken" "$p_rep" "$p_lost" "$EDITS" "${#EDIT_FAILS[@]}" "$SWAPS" \
        "$(awk -v r="${rss_kb:-0}" 'BEGIN{printf "%.1f", r/1024}')" "${threads:-0}" | tee -a "$W/table.txt"
}

log "soak: $DURATION s (warm-up $WARMUP_SECONDS s); edits every $EDIT_INTERVAL s, plugin swaps every $SWAP_INTERVAL s; work folder $W"
header | tee "$W/table.txt"
next_report=$((T0 + REPORT_INTERVAL)) next_edit=$((T0 + EDIT_INTERVAL)) next_swap=$((T0 + SWAP_INTERVAL))
GW_DIED=""
while :; do
    now="$(date +%s)"
    ((now >= END)) && break
    if ! alive "$GW_PID"; then GW_DIED="the gateway exited at $((now - T0)) s"; log "FAIL: $GW_DIED"; break; fi
    # one change per tick, a due swap first (it is quick; an edit's checks take up to 8 s); none in the last 10 s
    if ((now >= next_swap && now < END - 10)); then swap_plugin; next_swap=$((next_swap + SWAP_INTERVAL)); continue; fi
    if ((now >= next_edit && now < END - 10)); then edit_config; next_edit=$((next_edit + EDIT_INTERVAL)); continue; fi
    if ((now >= next_report)); then report; next_report=$((next_report + REPORT_INTERVAL)); fi
    sleep 1
done

# -------------------------------------------------------------------------------------- verdict --
log "load deadline reached; waiting for the last segments and transfers"
for name in dns-socket-loop dns-tun-loop http-big-loop http-small-loop sampler ping iperf3-client; do
    for i in "${!PIDS[@]}"; do
        [[ "${PIDNAMES[$i]}" == "$name" ]] || continue
        for ((k = 0; k < 1800; k++)); do alive "${PIDS[$i]}" || break; sleep 0.1; done
        alive "${PIDS[$i]}" && { log "$name still running 180 s after the deadline; stopping it"; kill_pid "${PIDS[$i]}" "$name"; }
    done
done
wait "$PING_PID" 2>/dev/null; wait "$IPERF_PID" 2>/dev/null
report
[[ -z "$GW_DIED" ]] && alive "$GW_PID" || GW_DIED="${GW_DIED:-the gateway exited}"
swap_verdict
reloads_end="$(count 'config reloaded from')"

read -r d_sent d_lost d_sf d_other d_err <<<"$(dns_totals)"
read -r h_ok h_broken h_bytes <<<"$(http_totals)"
read -r udp_inerr1 udp_rcvbuf1 <<<"$(udp_drops)"
tun_drops1="$(tun_drops)"
read -r _ w1_rcvbuf1 <<<"$(udp_drops "$W1NS")"
ping_tx="$(grep -oE '[0-9]+ packets transmitted' "$W/ping.txt" | cut -d' ' -f1)"
ping_rx="$(grep -oE '[0-9]+ received' "$W/ping.txt" | cut -d' ' -f1)"
iperf_mbit="$(awk '/"sum_received"/{f=1} f && /"bits_per_second"/{gsub(/[^0-9.e+]/, "", $2); printf "%.1f", $2/1e6; exit}' "$W/iperf3.json" 2>/dev/null)"
iperf_retr="$(awk '/"sum_sent"/{f=1} f && /"retransmits"/{gsub(/[^0-9]/, "", $2); print $2; exit}' "$W/iperf3.json" 2>/dev/null)"
iperf_err="$(grep -o '"error":[^,}]*' "$W/iperf3.json" 2>/dev/null | head -1)"
# RSS: median of the warm-up's second half against the median of the last 20 % of the run
rss_stats="$(awk -F'\t' -v w="$WARMUP_SECONDS" -v d="$DURATION" '
    function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                                       return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : 0 }
    { if ($1 >= w / 2 && $1 <= w) b[++nb] = $2; if ($1 >= d * 0.8) f[++nf] = $2; if ($1 > w && $2 > mx) mx = $2
      if ($2 > mxall) mxall = $2
      if (NR == 1) { r0 = $2; th0 = $3 } r1 = $2; th1 = $3; if ($3 > thmax) thmax = $3
      dm = $1 - d / 2; if (dm < 0) dm = -dm; if (NR == 1 || dm < best) { best = dm; rmid = $2 } }
    END { base = median(b, nb); fin = median(f, nf)
          printf "%d %d %d %.1f %d %d %d %d %d %d %d\n", base, fin, mx, base ? 100 * (fin - base) / base : 0, th0, th1, thmax, r0, rmid, r1, mxall }' "$W/rss.tsv")"
read -r rss_base rss_final rss_max rss_growth th_first th_last th_max rss_start rss_mid rss_end rss_max_all <<<"$rss_stats"
mib() { awk -v x="${1:-0}" 'BEGIN{printf "%.1f", x/1024}'; }

reasons=()
((d_lost + d_err > 0)) && reasons+=("$((d_lost + d_err)) DNS queries lost")
((d_sf > 0)) && reasons+=("$d_sf SERVFAIL")
((d_other > 0)) && reasons+=("$d_other other non-NOERROR answers")
((d_sent > 0)) || reasons+=("no DNS query sent")
((h_broken > 0)) && reasons+=("$h_broken broken transfers")
((h_ok > 0)) || reasons+=("no transfer completed")
[[ -n "$ping_tx" && -n "$ping_rx" ]] || reasons+=("ping summary missing")
[[ -n "$ping_tx" && -n "$ping_rx" && "$ping_tx" != "$ping_rx" ]] && reasons+=("$((ping_tx - ping_rx)) of $ping_tx WireGuard pings lost")
[[ -n "$iperf_err" || -z "$iperf_mbit" ]] && reasons+=("iperf3 through the tunnel did not finish: ${iperf_err:-no result}")
((${#EDIT_FAILS[@]})) && reasons+=("${#EDIT_FAILS[@]} live edits not effective")
((${#SWAP_FAILS[@]})) && reasons+=("plugin swaps: ${SWAP_FAILS[*]}")
[[ -n "$GW_DIED" ]] && reasons+=("$GW_DIED")
awk -v g="$rss_growth" -v l="$RSS_LIMIT_PCT" 'BEGIN{exit !(g > l)}' && reasons+=("RSS grew ${rss_growth} % after the warm-up")

# the gateway must also stop cleanly
kill -TERM "$GW_PID" 2>/dev/null
for ((k = 0; k < 300; k++)); do alive "$GW_PID" || break; sleep 0.1; done
if alive "$GW_PID"; then reasons+=("the gateway did not stop within 30 s of TERM"); gw_rc=killed
else wait "$GW_PID"; gw_rc=$?; ((gw_rc == 0)) || reasons+=("the gateway exited with $gw_rc on TERM"); fi

{
    echo
    echo "summary: $DURATION s (warm-up $WARMUP_SECONDS s), DNS $DNS_RATE q/s per path ($DNS_PERCENT % of a measured $MAXQPS q/s), edits every $EDIT_INTERVAL s, swaps every $SWAP_INTERVAL s"
    echo
    echo "| what | count |"
    echo "|---|---|"
    printf '| DNS queries sent (host socket + TUN virtual IP) | %d |\n' "$d_sent"
    printf '| DNS queries failed (lost / SERVFAIL / other rcode) | %d (%d / %d / %d) |\n' "$((d_lost + d_err + d_sf + d_other))" "$((d_lost + d_err))" "$d_sf" "$d_other"
    printf '| kernel drops: gateway UDP receive buffers / TUN queue / wireguard-go peer UDP | %d / %d / %d |\n' "$((udp_rcvbuf1 - udp_rcvbuf0))" "$((tun_drops1 - tun_drops0))" "$((w1_rcvbuf1 - w1_rcvbuf0))"
    printf '| proxy transfers intact / broken | %d / %d |\n' "$h_ok" "$h_broken"
    printf '| bytes checked (SHA-256 of every body) | %s (%s MiB) |\n' "$h_bytes" "$(awk -v x="$h_bytes" 'BEGIN{printf "%.0f", x/1048576}')"
    printf '| WireGuard pings sent / lost | %s / %s |\n' "${ping_tx:-?}" "$(( ${ping_tx:-0} - ${ping_rx:-0} ))"
    printf '| iperf3 through the tunnel | %s Mbit/s, %s retransmits |\n' "${iperf_mbit:-?}" "${iperf_retr:-?}"
    printf '| config reloads applied / edits not effective | %d / %d |\n' "$((reloads_end - reloads_t0))" "${#EDIT_FAILS[@]}"
    printf '| plugin swaps applied (%s) / problems | %d / %d |\n' "$(for e in "${SWAP_PENDING[@]}"; do printf '%s@%ss ' "${e%% *}" "${e##* }"; done | sed 's/ $//')" "$SWAPS" "${#SWAP_FAILS[@]}"
    printf '| RSS start / middle / end / max (MiB) | %s / %s / %s / %s |\n' "$(mib "$rss_start")" "$(mib "$rss_mid")" "$(mib "$rss_end")" "$(mib "$rss_max_all")"
    printf '| RSS growth after warm-up (bound %s %%) | %+.1f %% (%s -> %s MiB) |\n' "$RSS_LIMIT_PCT" "$rss_growth" "$(mib "$rss_base")" "$(mib "$rss_final")"
    printf '| threads start / end / max | %s / %s / %s |\n' "$th_first" "$th_last" "$th_max"
    printf '| gateway exit code on TERM | %s |\n' "$gw_rc"
    echo
    for f in "${EDIT_FAILS[@]}"; do echo "  edit failure: $f"; done
    for f in "${SWAP_FAILS[@]}"; do echo "  swap failure: $f"; done
    grep -h broken "$W"/http-*.tsv 2>/dev/null | head -5 | sed 's/^/  transfer: /'
    if ((${#reasons[@]})); then
        echo "soak: FAIL $(IFS=';'; echo "${reasons[*]}")"
    else
        echo "soak: PASS dns_sent=$d_sent http_ok=$h_ok bytes_checked=$h_bytes wg_pings=${ping_tx} edits=$EDITS swaps=$SWAPS rss_growth_pct=$rss_growth"
    fi
} | tee "$W/summary.txt"
((${#reasons[@]} == 0))
