#!/usr/bin/env bash
# scripts/socks-peers.sh -- SOCKS5 proxies side by side, in the style of ../shared/peers/*.sh (it sources their
# lib/common.sh: apt installs, PID bookkeeping and cleanup, the private netns, CPU accounting, tables).
#   origin : nginx on 127.0.0.1:8000 (1 worker, access log off) serving 1k.bin (1 KiB) and 10m.bin (10 MiB); its
#            request counter (stub_status on 127.0.0.1:8001) gives origin_requests per row.
#   peers  : dante      danted (Debian dante-server) on 127.0.0.1:PROXY_PORT, socksmethod none, clients and
#                       destinations 127.0.0.0/8 only, external lo, errors-only logging
#            microsocks microsocks -i 127.0.0.1 -p PROXY_PORT (Debian microsocks; a thread per connection)
#            custom     the published gateway: GATEWAY=/path/to/gateway (after `dotnet publish host -c Release
#                       -o /tmp/gw-socks`), run from a gateway.yaml this script writes: http-proxy with
#                       socksListen 127.0.0.1:PROXY_PORT (SOCKS-only), cache off, and the admin API on
#                       127.0.0.1:ADMIN_PORT, whose stats (socksRequests) prove every row went through SOCKS
#   load   : scripts/socks-load/socksload.c (built here with gcc): one epoll thread, CONNS connections at once,
#            each a SOCKS5 greeting, CONNECT to 127.0.0.1:8000 (IPv4, ATYP 1), `GET <file> HTTP/1.1` with
#            `Connection: close`, read to the end (status and length checked), close, next:
#            rate = 1k.bin with RATE_CONNS connections for DURATION s   (connections per second = req/s)
#            bulk = 10m.bin with BULK_CONNS connections for DURATION s  (MiB/s)
# Pinning as in http-peers.sh: the proxy (all its processes) on SUT_CPUS, the load generator and nginx on
# LOADGEN_CPUS/ORIGIN_CPUS. Each proxy is started alone, checked (curl --socks5 fetches 1k.bin and 10m.bin byte for
# byte), warmed up (WARMUP s of rate load), measured, stopped. CPU per process from /proc/<pid>/stat (the proxy's whole
# process tree, children it reaped included), foreign_cpu_pct = the machine's CPU not used by our processes.
# Results: the table on stdout, $PEERS_WORK/results/socks-peers.tsv and results/history/. RUNS=N repeats the whole
# set N times (one TSV row per peer, test and round; column round).
# Runs inside a private netns (only lo) unless HARNESS_ISOLATE=0.
#
# Env: PEERS="dante microsocks custom" TESTS="rate bulk" RUNS=1 DURATION=10 RATE_CONNS=50 BULK_CONNS=4 WARMUP=3
#      PROXY_PORT=1080 ADMIN_PORT=9091 SUT_CPUS=0 LOADGEN_CPUS=1 ORIGIN_CPUS=1 GATEWAY=gateway PEER_VERSION=?
#      PEER_WAIT=30 QUIET_WAIT=0 PEERS_LIB=../shared/peers/lib/common.sh
# From the project checkout (root):
#   dotnet publish host -c Release -o /tmp/gw-socks
#   GATEWAY=/tmp/gw-socks/gateway PEER_VERSION=$(git rev-parse --short HEAD) RUNS=3 QUIET_WAIT=60 scripts/socks-peers.sh
#   scripts/socks-peers.sh --summary /tmp/gateway-peers/results/socks-peers.tsv   # the ratios again (also printed at the end)
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# ../shared/peers next to the project checkout (a git worktree one level deeper finds it one level further up)
if [[ -z "${PEERS_LIB:-}" ]]; then
    for PEERS_LIB in "$HERE/../../shared/peers/lib/common.sh" "$HERE/../../../shared/peers/lib/common.sh"; do
        [[ -r "$PEERS_LIB" ]] && break
    done
fi
[[ -r "$PEERS_LIB" ]] || { echo "$0: cannot read $PEERS_LIB (set PEERS_LIB to ../shared/peers/lib/common.sh)" >&2; exit 2; }
# shellcheck disable=SC1090
source "$PEERS_LIB"
export PEERS_LIB

PEERS="${PEERS:-dante microsocks custom}"
TESTS="${TESTS:-rate bulk}"
RUNS="${RUNS:-1}"
DURATION="${DURATION:-10}"
RATE_CONNS="${RATE_CONNS:-50}"
BULK_CONNS="${BULK_CONNS:-4}"
WARMUP="${WARMUP:-3}"
SUT_CPUS="${SUT_CPUS:-0}"
LOADGEN_CPUS="${LOADGEN_CPUS:-1}"
ORIGIN_CPUS="${ORIGIN_CPUS:-1}"
PEER_WAIT="${PEER_WAIT:-30}"
PROXY_PORT="${PROXY_PORT:-1080}"
ADMIN_PORT="${ADMIN_PORT:-9091}"
ORIGIN_PORT=8000
ORIGIN_STATUS_PORT=8001
ORIGIN_URL="http://127.0.0.1:$ORIGIN_PORT"
OUT_TSV="${RESULTS_TSV:-$HX_RESULTS/socks-peers.tsv}"
BIG=$((10 * 1048576))

# summary: per round, the custom row against each reference row of the same round and test (req/s in rate, MiB/s
# in bulk, and the proxy's CPU per request / per MiB), then the medians of those per-round ratios against issue
# 18's goal. ">= 1.5x their rate at <= their CPU" = 1.5x the rate at <= 1/1.5 of their CPU per unit: both
# proxies are held to one core, so their CPU seconds only say which one was busier.
summary() {
    awk -F'\t' '
    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $(c["test"]) == "-" || $(c["requests"]) == "-" { next }
    { t = $(c["test"]); r = $(c["round"]); p = $(c["path"])
      v[t, r, p] = (t == "rate") ? $(c["req_per_s"]) : $(c["mbytes_per_s"])
      u[t, r, p] = (t == "rate") ? $(c["sut_cpu_us_per_req"]) : $(c["sut_cpu_us_per_mib"])
      f[t, r, p] = $(c["foreign_cpu_pct"])
      if (!(t in st)) { st[t] = 1; tests[++nt] = t }
      if (p != "custom" && !(p in sp)) { sp[p] = 1; refs[++np] = p }
      if (r > maxr) maxr = r }
    function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
                                        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    END { for (k = 1; k <= nt; k++) for (m = 1; m <= np; m++) { t = tests[k]; p = refs[m]; n = 0; line = ""
            unit = (t == "rate") ? "req/s" : "MiB/s"; per = (t == "rate") ? "request" : "MiB"
            for (r = 1; r <= maxr; r++) if (((t, r, "custom") in v) && ((t, r, p) in v) && v[t, r, p] > 0 && u[t, r, p] > 0) {
                n++; q[n] = v[t, r, "custom"] / v[t, r, p]; w[n] = u[t, r, "custom"] / u[t, r, p]
                line = line sprintf(" r%d %.2fx/%.2fx (foreign %s%%/%s%%)", r, q[n], w[n], f[t, r, "custom"], f[t, r, p]) }
            if (!n) continue
            mq = median(q, n); mw = median(w, n)
            printf "%s, custom vs %s: median %.2fx %s, %.2fx CPU per %s -> goal (>= 1.5x at <= 0.67x CPU per %s): %s;%s\n",
                   t, p, mq, unit, mw, per, per, (mq >= 1.5 && mw <= 1 / 1.5) ? "met" : "not met", line } }' "$1"
}
if [[ "${1:-}" == --summary ]]; then   # scripts/socks-peers.sh --summary FILE.tsv: the ratios of an earlier run
    summary "${2:?usage: $0 --summary results.tsv}"; exit 0
fi

pkgs=(curl:curl nginx:nginx gcc:gcc iproute2:ip util-linux:taskset)
for p in $PEERS; do
    case "$p" in
        dante) pkgs+=(dante-server:danted) ;;
        microsocks) pkgs+=(microsocks:microsocks) ;;
        custom) read -ra GW <<<"${GATEWAY:-gateway}"
                command -v "${GW[0]}" >/dev/null || hx_die "PEERS has custom but GATEWAY='${GATEWAY:-gateway}' is not found (dotnet publish host -c Release -o /tmp/gw-socks; GATEWAY=/tmp/gw-socks/gateway)" ;;
        *) hx_die "unknown peer '$p' in PEERS (dante, microsocks, custom)" ;;
    esac
done
for t in $TESTS; do [[ "$t" == rate || "$t" == bulk ]] || hx_die "unknown test '$t' in TESTS (rate, bulk)"; done

hx_ensure_pkgs "${pkgs[@]}"
hx_isolate "$@"
hx_install_traps
T_START="$(hx_now)"
W="$HX_TMP/socks"
rm -rf "$W"; mkdir -p "$W/www"
DATE_UTC="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ROWS="$W/rows.tsv"; : > "$ROWS"
COLS=(date_utc round test path target sut_cpus loadgen_cpus origin_cpus host_cores duration_s connections requests errors
      req_per_s mbytes_per_s lat_mean_ms lat_p99_ms proxy_cpu_s proxy_cpu_pct sut_cpu_us_per_req sut_cpu_us_per_mib
      origin_cpu_pct loadgen_cpu_pct origin_requests socks_requests foreign_cpu_pct host_busy_before_pct host_busy_pct
      core_busy_pct saturated version notes)
FAILED=0

hx_port_free "$ORIGIN_PORT"; hx_port_free "$ORIGIN_STATUS_PORT"; hx_port_free "$PROXY_PORT"; hx_port_free "$ADMIN_PORT"
head -c 1024 /dev/urandom > "$W/www/1k.bin"
head -c "$BIG" /dev/urandom > "$W/www/10m.bin"
chmod 755 "$W/www"; chmod 644 "$W/www/"*.bin

# ------------------------------------------------------------- load tool --
LOAD="$W/socksload"
gcc -O2 -Wall -o "$LOAD" "$HERE/socks-load/socksload.c" || hx_die "cannot build $HERE/socks-load/socksload.c"

# ------------------------------------------------------------- origin -----
# nginx with a config of its own (as http-peers.sh's origin), every path under $W/nginx, master in the
# foreground (tracked by PID), one worker; backlog 4096 so that connection bursts do not drop SYNs.
start_origin() {
    local d="$W/nginx"
    mkdir -p "$d"
    ORIGIN_VER="nginx $(hx_pkg_version nginx)"
    cat > "$d/nginx.conf" <<EOF
# generated by scripts/socks-peers.sh
daemon off;
master_process on;
worker_processes 1;
user root;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    default_type application/octet-stream;
    client_body_temp_path $d/client_body;
    proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi;
    scgi_temp_path $d/scgi;
    server { listen 127.0.0.1:$ORIGIN_PORT backlog=4096; root $W/www; }
    server { listen 127.0.0.1:$ORIGIN_STATUS_PORT; location = /status { stub_status; } }
}
EOF
    nginx -t -q -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" >"$d/check.log" 2>&1 \
        || { cat "$d/check.log" >&2; hx_die "nginx config invalid: $d/nginx.conf"; }
    # shellcheck disable=SC2046
    $(hx_taskset "$ORIGIN_CPUS") nginx -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" >"$W/origin.log" 2>&1 </dev/null &
    ORIGIN_PID=$!
    hx_track "$ORIGIN_PID" origin
    hx_wait_port tcp "$ORIGIN_PORT" 10 || { cat "$W/origin.log" "$d/error.log" >&2; hx_die "nginx did not start"; }
    hx_pin_tree "$ORIGIN_CPUS" "$ORIGIN_PID"
}
origin_requests() {
    timeout 5 curl -s --noproxy '*' --max-time 2 "http://127.0.0.1:$ORIGIN_STATUS_PORT/status" | awk 'NR==3 {print $3}'
}

# tree_ticks PID -- utime+stime+cutime+cstime of PID and its live descendants: dante's children, and what
# they reaped, count too (a child that exits moves its ticks into its parent's cutime/cstime)
tree_ticks() {
    [[ -n "$1" ]] || { echo 0; return; }
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
        { pid = $1; s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
          ppid[pid] = f[2]; ticks[pid] = f[12] + f[13] + f[14] + f[15]; n++; order[n] = pid }
        END { if (!(root in ticks)) { print 0; exit }
              inside[root] = 1; total = ticks[root]
              do { added = 0
                   for (i = 1; i <= n; i++) { p = order[i]
                       if (!(p in inside) && (ppid[p] in inside)) { inside[p] = 1; total += ticks[p]; added = 1 } }
              } while (added)
              print total }'
}

start_origin
check() {  # check LABEL CURLARGS... -- prints "code size"
    local label="$1" r; shift
    r="$(timeout 30 curl -s -o /dev/null --max-time 20 -w '%{http_code} %{size_download}' "$@")"
    hx_log "check $label: $r"
    echo "$r"
}
[[ "$(check 'origin 1k.bin direct' --noproxy '*' "$ORIGIN_URL/1k.bin")" == "200 1024" ]] || hx_die "origin check failed"
[[ "$(origin_requests)" =~ ^[0-9]+$ ]] || hx_die "nginx stub_status gives no request counter"

# ------------------------------------------------------------- proxies ----
# Every proxy runs pinned to SUT_CPUS, tracked by PID (PROXY_PID, label proxy), on 127.0.0.1:PROXY_PORT.
start_dante() {
    cat > "$W/danted.conf" <<EOF
# generated by scripts/socks-peers.sh
logoutput: $W/danted.log
errorlog: $W/danted.err
internal: 127.0.0.1 port = $PROXY_PORT
external: lo
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
    from: 127.0.0.0/8 to: 0.0.0.0/0
    log: error
}
socks pass {
    from: 127.0.0.0/8 to: 127.0.0.0/8
    command: connect
    log: error
}
EOF
    # shellcheck disable=SC2046
    $(hx_taskset "$SUT_CPUS") danted -f "$W/danted.conf" -p "$W/danted.pid" >"$W/danted.stdout" 2>&1 </dev/null &
    PROXY_PID=$!
    hx_track "$PROXY_PID" proxy
}
start_microsocks() {
    # shellcheck disable=SC2046
    $(hx_taskset "$SUT_CPUS") microsocks -i 127.0.0.1 -p "$PROXY_PORT" >"$W/microsocks.log" 2>&1 </dev/null &
    PROXY_PID=$!
    hx_track "$PROXY_PID" proxy
}
start_custom() {
    local d="$W/custom"
    mkdir -p "$d"
    cat > "$d/gateway.yaml" <<EOF
# written by scripts/socks-peers.sh
host:
  admin:
    listen: 127.0.0.1:$ADMIN_PORT
http-proxy:
  listen: []
  socksListen: ["127.0.0.1:$PROXY_PORT"]
  cache: { enabled: false }
EOF
    # GATEWAY_* variables are configuration overrides for the gateway itself
    # shellcheck disable=SC2046
    env -u GATEWAY $(hx_taskset "$SUT_CPUS") "${GW[@]}" run --config "$d/gateway.yaml" >"$W/custom.log" 2>&1 </dev/null &
    PROXY_PID=$!
    hx_track "$PROXY_PID" proxy 10
}
socks_requests() {   # the gateway's SOCKS request counter, "-" for the other peers
    [[ "$CUR_PATH" == custom ]] || { echo -; return; }
    timeout 5 curl -s --noproxy '*' --max-time 2 "http://127.0.0.1:$ADMIN_PORT/api/v1/plugins/http-proxy/stats" \
        | grep -o '"socksRequests":[0-9]*' | cut -d: -f2
}
wait_proxy() {
    local i
    for ((i = 0; i < PEER_WAIT * 10; i++)); do
        hx_alive "$PROXY_PID" || { START_ERR="exited: $(tail -3 "$W/$CUR_PATH"*.{log,err,stdout} 2>/dev/null | tr '\n' ' ' | head -c 300)"; return 1; }
        ss -Hltn "sport = :$PROXY_PORT" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    START_ERR="nothing listens on 127.0.0.1:$PROXY_PORT after ${PEER_WAIT}s"
    return 1
}
# proxy_checks -- curl --socks5 (IPv4 CONNECT) fetches both files byte for byte (sizes and SHA-256)
proxy_checks() {
    local f want got
    for f in 1k.bin 10m.bin; do
        want="$(sha256sum < "$W/www/$f" | cut -d' ' -f1)"
        got="$(timeout 30 curl -s --max-time 20 --socks5 "127.0.0.1:$PROXY_PORT" "$ORIGIN_URL/$f" | sha256sum | cut -d' ' -f1)"
        hx_log "check $CUR_PATH: curl --socks5 127.0.0.1:$PROXY_PORT $ORIGIN_URL/$f: $([[ "$got" == "$want" ]] && echo 'same bytes' || echo "DIFFERENT ($got)")"
        [[ "$got" == "$want" ]] || return 1
    done
    if [[ "$CUR_PATH" == custom ]]; then
        local n; n="$(socks_requests)"
        hx_log "check custom: the gateway's stats count ${n:-no} SOCKS requests"
        [[ "${n:-0}" =~ ^[0-9]+$ && "$n" -ge 2 ]] || return 1
    fi
}

# measure TEST ROUND -- one row for the current peer
measure() {
    local test="$1" round="$2" file=1k.bin size=1024 conns="$RATE_CONNS" tag="$1-$CUR_PATH-$2"
    [[ "$test" == bulk ]] && { file=10m.bin; size=$BIG; conns="$BULK_CONNS"; }
    local busy; busy="$(hx_quiet_gate "$tag")"
    local out="$W/$tag.out" lg; lg="$(hx_taskset "$LOADGEN_CPUS")"
    local r0 r1 s0 s1 p0 p1 o0 o1 h0 h1 st0 st1 cs0 cs1
    r0="$(origin_requests)"; s0="$(socks_requests)"
    p0="$(tree_ticks "$PROXY_PID")"; o0="$(tree_ticks "$ORIGIN_PID")"; h0="$(hx_host_ticks)"
    st0="$(hx_stat_snap)"; cs0="$(hx_cores_snap)"
    # bounded: the tool stops after DURATION s; a hard timeout backs it up
    # shellcheck disable=SC2086
    hx_run_load "$out" timeout -k 2 $((DURATION + 15)) $lg "$LOAD" 127.0.0.1 "$PROXY_PORT" 127.0.0.1 "$ORIGIN_PORT" "/$file" "$size" "$conns" "$DURATION"
    st1="$(hx_stat_snap)"; cs1="$(hx_cores_snap)"; h1="$(hx_host_ticks)"
    p1="$(tree_ticks "$PROXY_PID")"; o1="$(tree_ticks "$ORIGIN_PID")"
    r1="$(origin_requests)"; s1="$(socks_requests)"
    local el="$HX_LOAD_WALL" requests errors bytes secs latm latp99 notes="-"
    read -r requests errors bytes secs latm latp99 < <(awk '/^HXRESULT/ {print $2, $3, $4, $5, $6, $7}' "$out")
    [[ -n "${requests:-}" ]] || { notes="load tool failed: $(head -c 100 "$out" | tr '\n\t' '  ')"; requests=0; errors=-; bytes=0; secs="$el"; FAILED=1; }
    grep -q '^last error' "$out" && notes="$(grep -m1 '^last error' "$out")"
    local rps mbps pt=$((p1 - p0)) cpus pp op lgpct lgticks ours foreign usr usm
    rps="$(awk -v n="$requests" -v s="$secs" 'BEGIN{printf "%.0f", (s>0 ? n/s : 0)}')"
    mbps="$(awk -v b="$bytes" -v s="$secs" 'BEGIN{printf "%.1f", (s>0 ? b/s/1048576 : 0)}')"
    cpus="$(awk -v t="$pt" -v h="$HX_CLK_TCK" 'BEGIN{printf "%.2f", t/h}')"
    pp="$(hx_cpu_pct "$pt" "$el")"; op="$(hx_cpu_pct $((o1 - o0)) "$el")"
    usr="$(awk -v c="$cpus" -v n="$requests" 'BEGIN{ if (n>0) printf "%.0f", c*1e6/n; else print "-" }')"
    usm="$(awk -v c="$cpus" -v b="$bytes" 'BEGIN{ if (b>0) printf "%.0f", c*1e6/(b/1048576); else print "-" }')"
    # the per-unit figure of each test: per connection+request (rate), per MiB relayed (bulk)
    if [[ "$test" == rate ]]; then usm="-"; else usr="-"; fi
    lgpct="$(awk -v c="$HX_LOAD_CPU" -v w="$el" 'BEGIN{ if (w>0) printf "%.0f", 100*c/w; else print "-" }')"
    lgticks="$(awk -v c="$HX_LOAD_CPU" -v h="$HX_CLK_TCK" 'BEGIN{ printf "%.0f", c*h }')"
    ours=$(( pt + (o1 - o0) + ${lgticks:-0} ))
    foreign="$(hx_cpu_pct $(( h1 - h0 - ours > 0 ? h1 - h0 - ours : 0 )) "$el")"
    local hb cb sat oreq="-" sreq="-"
    hb="$(hx_stat_busy_pct "$st0" "$st1")"; cb="$(hx_cores_busy "$cs0" "$cs1")"
    sat="$(hx_join_sat "$(hx_saturated "proxy=$pp" "origin=$op" "loadgen=$lgpct")" "$(hx_cores_saturated "$cb")")"
    # each stub_status reading counts itself once
    [[ "$r0" =~ ^[0-9]+$ && "$r1" =~ ^[0-9]+$ ]] && oreq=$((r1 - r0 - 1))
    [[ "$s0" =~ ^[0-9]+$ && "$s1" =~ ^[0-9]+$ ]] && sreq=$((s1 - s0))
    # every completed request went through the gateway's SOCKS CONNECT: its counter must have seen at least as many
    if [[ "$sreq" != - && "$sreq" -lt "$requests" ]]; then
        notes="$(join_notes "$notes" "the gateway counted only $sreq SOCKS requests for $requests responses")"; FAILED=1
    fi
    [[ "$CUR_PATH" == custom && "$sreq" == - ]] && { notes="$(join_notes "$notes" "no SOCKS counter from the gateway's stats")"; FAILED=1; }
    printf '%s\n' "$DATE_UTC" "$round" "$test" "$CUR_PATH" "socks5://127.0.0.1:$PROXY_PORT" "$SUT_CPUS" "$LOADGEN_CPUS" \
        "$ORIGIN_CPUS" "$HX_NCPU" "$DURATION" "$conns" "$requests" "$errors" "$rps" "$mbps" "$latm" "$latp99" "$cpus" \
        "$pp" "$usr" "$usm" "$op" "$lgpct" "$oreq" "$sreq" "$foreign" "$busy" "$hb" "$cb" "$sat" "$CUR_VER" "$notes" \
        | tr -d '\t' | paste -sd '\t' >> "$ROWS"
    hx_log "  $test $CUR_PATH round $round: $rps req/s, $mbps MiB/s, lat ${latm} ms (p99 ${latp99}), errors $errors, proxy ${cpus} s cpu (${pp}%, ${usr} us/req, ${usm} us/MiB), origin ${op}%, loadgen ${lgpct}%, origin requests $oreq, socks requests $sreq, foreign ${foreign}%"
}
join_notes() { if [[ -z "$1" || "$1" == - ]]; then echo "$2"; else echo "$1; $2"; fi; }
fail_row() {
    printf '%s\n' "$DATE_UTC" "$1" - "$CUR_PATH" "socks5://127.0.0.1:$PROXY_PORT" "$SUT_CPUS" "$LOADGEN_CPUS" "$ORIGIN_CPUS" \
        "$HX_NCPU" - - - - - - - - - - - - - - - - - - - - - "$CUR_VER" "$2" | tr -d '\t' | paste -sd '\t' >> "$ROWS"
    FAILED=1
}

hx_log "socks-peers: peers '$PEERS', tests '$TESTS', $RUNS round(s); ${DURATION}s each, rate $RATE_CONNS conns on 1k.bin, bulk $BULK_CONNS conns on 10m.bin; warm-up ${WARMUP}s"
hx_log "cpus: host=$HX_NCPU proxy(SUT)=$SUT_CPUS loadgen=$LOADGEN_CPUS origin=$ORIGIN_CPUS"
for round in $(seq 1 "$RUNS"); do
    for peer in $PEERS; do
        CUR_PATH="$peer"; PROXY_PID=""
        case "$peer" in
            dante) CUR_VER="dante-server $(hx_pkg_version dante-server)"; start_dante ;;
            microsocks) CUR_VER="microsocks $(hx_pkg_version microsocks)"; start_microsocks ;;
            custom) CUR_VER="gateway ${PEER_VERSION:-?}"; start_custom ;;
        esac
        if ! wait_proxy; then
            hx_log "ERROR: $peer did not come up: $START_ERR"
            fail_row "$round" "did not start: $START_ERR"
        elif ! proxy_checks; then
            hx_log "ERROR: $peer failed its checks; not loaded"
            fail_row "$round" "curl --socks5 check failed; not loaded"
        else
            if ((WARMUP > 0)); then
                # shellcheck disable=SC2046
                timeout -k 2 $((WARMUP + 15)) $(hx_taskset "$LOADGEN_CPUS") "$LOAD" 127.0.0.1 "$PROXY_PORT" 127.0.0.1 "$ORIGIN_PORT" /1k.bin 1024 "$RATE_CONNS" "$WARMUP" >"$W/warmup-$peer-$round.out" 2>&1
                hx_log "$peer: warmed up: $(cat "$W/warmup-$peer-$round.out" | head -1)"
            fi
            for t in $TESTS; do measure "$t" "$round"; done
            hx_assert_local_peers
        fi
        hx_stop proxy
    done
done
hx_assert_local_peers

{ (IFS=$'\t'; echo "${COLS[*]}"); cat "$ROWS"; } > "$OUT_TSV"
hx_tsv_check "$OUT_TSV"
mkdir -p "$HX_RESULTS/history" && cp "$OUT_TSV" "$HX_RESULTS/history/socks-peers-$(date -u -d "$DATE_UTC" +%Y%m%dT%H%M%SZ).tsv"
echo
hx_table "$OUT_TSV" round test path connections requests errors req_per_s mbytes_per_s lat_mean_ms lat_p99_ms proxy_cpu_s \
    proxy_cpu_pct sut_cpu_us_per_req sut_cpu_us_per_mib origin_cpu_pct loadgen_cpu_pct origin_requests socks_requests \
    foreign_cpu_pct core_busy_pct saturated notes
echo
summary "$OUT_TSV"
echo
hx_log "wrote $OUT_TSV  (total run time $(awk -v a="$T_START" -v b="$(hx_now)" 'BEGIN{printf "%.0f", b-a}') s)"
((FAILED)) && hx_die "some checks failed or rows could not be measured (see notes in $OUT_TSV)"
exit 0
