#!/usr/bin/env bash
# scripts/dns-listeners.sh -- the gateway's DoT and DoH listeners and its plain upstreams, side by side with
# dnsdist 1.7 (addTLSLocal, addDOHLocal, newServer) in one run, under the same load (dnsperf), pinning and CPU
# accounting as ../shared/peers/dns-peers.sh, whose lib/ helpers and upstream (unbound, local data only) it reuses.
# That script's peers all listen in plain DNS and forward over DoT; this one measures what it does not:
#
#   row        client --(dnsperf)-->  peer listener        peer --> upstream unbound (127.0.0.1)
#   dot-in     -m dot                 TLS 127.0.0.1:8853   plain UDP :5300
#   doh-in     -m doh (GET, HTTP/2)   HTTPS 127.0.0.1:8443 plain UDP :5300
#   forward    -m udp                 UDP 127.0.0.1:5301   plain UDP :5300 (gateway: udp:// upstream)
#
# Roles: "cache" (both peers' caches on: the listener's own cost, the upstream answers once per name) and
# "forward" (caches off: every query goes upstream). Both peers verify nothing on the plain upstream, serve the same
# certificate (signed by the harness CA) and admit 127.0.0.0/8.
#
# Run as root from the project checkout (it re-runs itself in a private network namespace with only lo):
#   dotnet publish host -c Release -o /tmp/gw
#   GATEWAY=/tmp/gw/gateway PEERS_WORK=/tmp/gateway-peers-$(git branch --show-current) \
#     flock /tmp/gateway-bench.lock scripts/dns-listeners.sh
# Env: GATEWAY (required), ROWS="dot-in doh-in forward", ROLES="cache forward", PEERS="dnsdist gateway", DOH_METHOD=GET|POST,
#      DOH_CLIENT=h2load|dnsperf (default h2load: dnsperf 2.10 stalls against dnsdist 1.7's DoH listener, see below),
#      DURATION=10 CLIENTS=50 OUTSTANDING=100 DNSPERF_TIMEOUT=2 SUT_CPUS=0 LOADGEN_CPUS=1 UPSTREAM_CPUS=1,
#      PEERS_DIR (default: ../shared/peers next to the checkout). Results: a table on stdout and
#      $PEERS_WORK/results/dns-listeners.tsv (+ history/).
set -uo pipefail
SCRIPT_DIR="$(cd "$(dirname "$0")" && pwd)"
PEERS_DIR="${PEERS_DIR:-$(cd "$SCRIPT_DIR/../../shared/peers" 2>/dev/null && pwd || echo /work/shared/peers)}"
# shellcheck disable=SC1091
source "$PEERS_DIR/lib/common.sh"

GATEWAY="${GATEWAY:-}"
ROWS="${ROWS:-dot-in doh-in forward}"
ROLES="${ROLES:-cache forward}"
PEERS="${PEERS:-dnsdist gateway}"
DURATION="${DURATION:-10}"
CLIENTS="${CLIENTS:-50}"
OUTSTANDING="${OUTSTANDING:-100}"
DOH_CLIENT="${DOH_CLIENT:-h2load}"
DNSPERF_TIMEOUT="${DNSPERF_TIMEOUT:-2}"
SUT_CPUS="${SUT_CPUS:-0}"
LOADGEN_CPUS="${LOADGEN_CPUS:-1}"
export UPSTREAM_CPUS="${UPSTREAM_CPUS:-1}"
PEER_WAIT="${PEER_WAIT:-30}"
PLAIN_PORT=5301
TLS_PORT=8853
HTTPS_PORT=8443
LISTEN_NAME=dns.bench.test
OUT_TSV="${RESULTS_TSV:-$HX_RESULTS/dns-listeners.tsv}"

[[ -x "$GATEWAY" ]] || [[ "$PEERS" != *gateway* ]] || hx_die "GATEWAY=$GATEWAY is not an executable (dotnet publish host -c Release -o DIR; GATEWAY=DIR/gateway)"
hx_ensure_pkgs unbound:unbound unbound:unbound-control knot-dnsutils:kdig dnsperf:dnsperf dnsdist:dnsdist openssl:openssl \
    iproute2:ip util-linux:taskset curl:curl nghttp2-client:h2load python3:python3
hx_isolate "$@"
hx_install_traps
# shellcheck disable=SC1091
source "$PEERS_DIR/lib/upstream.sh"

T_START="$(hx_now)"
W="$HX_TMP/dns-listeners"
mkdir -p "$W"
DATE_UTC="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ROWS_TSV="$W/rows.tsv"
: > "$ROWS_TSV"
COLS=(date_utc peer version row role client_transport target sut_cpus loadgen_cpus upstream_cpus duration_s clients
      max_outstanding qps avg_latency_ms sent completed lost noerror_pct sut_cpu_pct sut_cpu_us_per_query
      upstream_cpu_pct loadgen_cpu_pct foreign_cpu_pct core_busy_pct saturated upstream_queries sut_rss_mb check notes)
QUERIES="$W/queries.txt"
for ((i = 1; i <= BENCH_NAMES; i++)); do echo "n$i.bench.test A"; done > "$QUERIES"
# The same names as RFC 8484 GET URIs for h2load (id 0, RD, one A question; base64url without padding).
DOH_URIS="$W/doh-uris.txt"
python3 - "$BENCH_NAMES" "https://127.0.0.1:$HTTPS_PORT/dns-query" > "$DOH_URIS" <<'PY'
import base64, struct, sys
count, base = int(sys.argv[1]), sys.argv[2]
for i in range(1, count + 1):
    name = b"".join(bytes([len(l)]) + l for l in f"n{i}.bench.test".encode().split(b".")) + b"\0"
    query = struct.pack(">HHHHHH", 0, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
    print(f"{base}?dns={base64.urlsafe_b64encode(query).rstrip(b'=').decode()}")
PY

upstream_start
upstream_check || hx_die "upstream checks failed"

# The listeners' certificate, signed by the harness CA (mode 600 key, as the gateway demands).
CERT="$W/listener.pem"; KEY="$W/listener.key"
(umask 077
 openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$KEY" -out "$W/listener.csr" \
     -subj "/CN=$LISTEN_NAME" 2>/dev/null
 printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$LISTEN_NAME" > "$W/listener.ext"
 openssl x509 -req -in "$W/listener.csr" -CA "$UPSTREAM_CA" -CAkey "$UPSTREAM_CA_KEY" -CAcreateserial \
     -out "$CERT" -days 30 -extfile "$W/listener.ext" 2>/dev/null) || hx_die "listener certificate failed"

# ------------------------------------------------------------------ peers ----
# start_peer PEER ROLE -> PEER_PID, waits until every listener port is open
start_peer() {
    local peer="$1" role="$2" log="$W/$1-$2.log" ts deadline
    ts="$(hx_taskset "$SUT_CPUS")"
    case "$peer" in
        dnsdist)
            local cache=""
            [[ "$role" == cache ]] && cache='getPool(""):setCache(newPacketCache(100000, {maxTTL=86400, minTTL=0}))'
            cat > "$W/dnsdist.conf" <<EOF
-- generated by scripts/dns-listeners.sh ($role)
setSecurityPollSuffix("")
setLocal("127.0.0.1:$PLAIN_PORT")
addTLSLocal("127.0.0.1:$TLS_PORT", "$CERT", "$KEY", { provider="openssl" })
addDOHLocal("127.0.0.1:$HTTPS_PORT", "$CERT", "$KEY", "/dns-query")
setACL({"127.0.0.0/8"})
newServer({address="127.0.0.1:$UPSTREAM_PORT", name="upstream-plain", checkInterval=1})
$cache
EOF
            dnsdist --check-config -C "$W/dnsdist.conf" >/dev/null 2>&1 || { dnsdist --check-config -C "$W/dnsdist.conf" >&2; hx_die "dnsdist config invalid"; }
            # shellcheck disable=SC2086
            $ts dnsdist --supervised --disable-syslog -C "$W/dnsdist.conf" >"$log" 2>&1 </dev/null &
            ;;
        gateway)
            mkdir -p "$W/gateway"
            cat > "$W/gateway/gateway.yaml" <<EOF
# generated by scripts/dns-listeners.sh ($role)
dns-dot:
  listen: ["127.0.0.1:$PLAIN_PORT"]
  listenTls: ["127.0.0.1:$TLS_PORT"]
  listenHttps: ["127.0.0.1:$HTTPS_PORT"]
  certFile: "$CERT"
  keyFile: "$KEY"
  maxConnectionsPerClient: 0
  cache: { enabled: $([[ "$role" == cache ]] && echo true || echo false) }
  upstreams: [ { address: "udp://127.0.0.1:$UPSTREAM_PORT" } ]
EOF
            # shellcheck disable=SC2086
            $ts "$GATEWAY" run --config "$W/gateway/gateway.yaml" --verbosity warn >"$log" 2>&1 </dev/null &
            ;;
    esac
    PEER_PID=$!
    hx_track "$PEER_PID" "$peer-$role" 10
    deadline=$((SECONDS + PEER_WAIT))
    while ((SECONDS < deadline)); do
        hx_alive "$PEER_PID" || hx_die "$peer ($role) exited: $(tail -5 "$log" | tr '\n' ' ')"
        if ss -Hlun "sport = :$PLAIN_PORT" | grep -q . && ss -Hltn "sport = :$TLS_PORT" | grep -q . && ss -Hltn "sport = :$HTTPS_PORT" | grep -q .; then
            return 0
        fi
        sleep 0.1
    done
    hx_die "$peer ($role) did not listen within ${PEER_WAIT}s: $(tail -5 "$log" | tr '\n' ' ')"
}

# check ROW -> "ok" or "FAIL(...)": n1.bench.test must be 198.18.0.1 over the row's transport, certificate verified
check() {
    local r
    case "$1" in
        dot-in) r="$(kdig @127.0.0.1 -p "$TLS_PORT" +tls +tls-ca="$UPSTREAM_CA" +tls-hostname="$LISTEN_NAME" +time=3 +retry=1 +short n1.bench.test A 2>&1)" ;;
        doh-in) r="$(kdig @127.0.0.1 -p "$HTTPS_PORT" +https +tls-ca="$UPSTREAM_CA" +tls-hostname="$LISTEN_NAME" +time=3 +retry=1 +short n1.bench.test A 2>&1)" ;;
        *)      r="$(kdig @127.0.0.1 -p "$PLAIN_PORT" +time=3 +retry=1 +short n1.bench.test A 2>&1)" ;;
    esac
    r="$(echo "$r" | grep -v '^;;' | tr '\n' ' ')"; r="${r% }"
    [[ "$r" == 198.18.0.1 ]] && echo ok || echo "FAIL(${r:0:40})"
}

# measure PEER VERSION ROW ROLE
measure() {
    local peer="$1" version="$2" row="$3" role="$4" mode target extra=() out ts
    case "$row" in
        dot-in) mode=dot; target="127.0.0.1:$TLS_PORT"; extra=(-p "$TLS_PORT") ;;
        doh-in) mode=doh; target="https://$LISTEN_NAME:$HTTPS_PORT/dns-query"; extra=(-p "$HTTPS_PORT" -O "doh-uri=https://$LISTEN_NAME:$HTTPS_PORT/dns-query" -O "doh-method=${DOH_METHOD:-GET}") ;;
        *)      mode=udp; target="127.0.0.1:$PLAIN_PORT"; extra=(-p "$PLAIN_PORT") ;;
    esac
    local c; c="$(check "$row")"
    hx_log "check $peer/$row/$role: $c"
    out="$W/dnsperf-$peer-$row-$role.txt"
    ts="$(hx_taskset "$LOADGEN_CPUS")"
    # dnsperf 2.10's DoH client stalls against dnsdist 1.7's listener (25 queries/s with one outstanding: a 40 ms
    # delayed-ACK wait per query; timeouts with more), so DoH rows use h2load (nghttp2) by default: HTTP/2 GETs of
    # the same names, CLIENTS connections with OUTSTANDING/CLIENTS streams each (the same total outstanding).
    local gen=dnsperf load=()
    if [[ $row == doh-in && $DOH_CLIENT == h2load ]]; then
        gen=h2load
        load=(h2load -i "$DOH_URIS" -c "$CLIENTS" -m $(( OUTSTANDING / CLIENTS > 0 ? OUTSTANDING / CLIENTS : 1 )) -t 1)
        target="h2load GET https://127.0.0.1:$HTTPS_PORT/dns-query"
    else
        load=(dnsperf -m "$mode" -s 127.0.0.1 "${extra[@]}" -d "$QUERIES" -c "$CLIENTS" -q "$OUTSTANDING" -t "$DNSPERF_TIMEOUT")
    fi
    local warm=(-n 1 -l 8) timed=(-l "$DURATION")
    [[ $gen == h2load ]] && { warm=(-D 8); timed=(-D "$DURATION"); }
    # shellcheck disable=SC2086
    hx_run_load "$W/warmup-$peer-$row-$role.txt" timeout -k 2 20 $ts "${load[@]}" "${warm[@]}"
    local busy s0 s1 u0 u1 q0 q1 h0 h1 cs0 cs1
    busy="$(hx_quiet_gate "$peer-$row-$role")"
    s0="$(hx_tree_cpu_ticks "$PEER_PID")"; u0="$(hx_cpu_ticks "$UPSTREAM_PID")"; q0="$(upstream_queries)"; h0="$(hx_host_ticks)"; cs0="$(hx_cores_snap)"
    # shellcheck disable=SC2086
    hx_run_load "$out" timeout -k 2 $((DURATION + DNSPERF_TIMEOUT + 15)) $ts "${load[@]}" "${timed[@]}"
    s1="$(hx_tree_cpu_ticks "$PEER_PID")"; u1="$(hx_cpu_ticks "$UPSTREAM_PID")"; q1="$(upstream_queries)"; h1="$(hx_host_ticks)"; cs1="$(hx_cores_snap)"
    local el="$HX_LOAD_WALL" sutpct uppct lgpct lgticks ours foreign cb sat usq rss
    sutpct="$(hx_cpu_pct $((s1 - s0)) "$el")"
    uppct="$(hx_cpu_pct $((u1 - u0)) "$el")"
    lgpct="$(awk -v c="$HX_LOAD_CPU" -v w="$el" 'BEGIN{ if (w>0) printf "%.0f", 100*c/w; else print "-" }')"
    lgticks="$(awk -v c="$HX_LOAD_CPU" -v h="$HX_CLK_TCK" 'BEGIN{ printf "%.0f", c*h }')"
    ours=$(( (s1 - s0) + ${lgticks:-0} + u1 - u0 ))
    foreign="$(hx_cpu_pct $(( h1 - h0 - ours > 0 ? h1 - h0 - ours : 0 )) "$el")"
    cb="$(hx_cores_busy "$cs0" "$cs1")"
    sat="$(hx_join_sat "$(hx_saturated "sut=$sutpct" "upstream=$uppct" "loadgen=$lgpct")" "$(hx_cores_saturated "$cb")")"
    rss="$(awk '/VmRSS/{printf "%.0f", $2/1024}' "/proc/$PEER_PID/status" 2>/dev/null)"
    local sent completed lost qps avg noerr
    sent="$(awk '/Queries sent:/{print $3}' "$out")"
    completed="$(awk '/Queries completed:/{print $3}' "$out")"
    lost="$(awk '/Queries lost:/{print $3}' "$out")"
    qps="$(awk '/Queries per second:/{printf "%.0f", $4}' "$out")"
    avg="$(awk '/Average Latency/{printf "%.3f", $4*1000; exit}' "$out")"
    noerr="$(awk '/Response codes:/{for(i=3;i<=NF;i++) if($i=="NOERROR"){v=$(i+2); gsub(/[()%,]/,"",v); print v}}' "$out")"
    if [[ $gen == h2load ]]; then
        # "requests: N total, N started, N done, N succeeded, …"; "time for request: min max mean sd ±sd"; the
        # answers' rcodes are not visible to h2load: noerror_pct is the share of 2xx replies instead.
        sent="$(awk '/^requests:/{print $2}' "$out")"
        completed="$(awk '/^requests:/{print $8}' "$out")"
        [[ -n "$sent" && -n "$completed" ]] && lost=$((sent - completed))
        qps="$(awk '/^finished in/{printf "%.0f", $4}' "$out")"
        avg="$(awk '/^time for request:/{v=$6; f=1; if (v ~ /us$/) f=0.001; else if (v ~ /ms$/) f=1; else if (v ~ /s$/) f=1000; gsub(/[a-z]/,"",v); printf "%.3f", v*f}' "$out")"
        noerr="$(awk '/^status codes:/{ if ($3 + 0 > 0) printf "%.2f", 100 * $3 / ($3 + $5 + $7 + $9) }' "$out")"
    fi
    usq="-"
    [[ -n "$completed" && "$completed" -gt 0 ]] 2>/dev/null && \
        usq="$(awk -v t=$((s1 - s0)) -v h="$HX_CLK_TCK" -v n="$completed" 'BEGIN{printf "%.1f", t/h*1e6/n}')"
    local notes="-"
    [[ -z "$qps" ]] && notes="$gen failed: $(grep -m1 -iE 'error|fatal' "$out" | cut -c1-60)"
    printf '%s\n' "$DATE_UTC" "$peer" "$version" "$row" "$role" "$mode" "$target" "$SUT_CPUS" "$LOADGEN_CPUS" "$UPSTREAM_CPUS" \
        "$DURATION" "$CLIENTS" "$OUTSTANDING" "${qps:--}" "${avg:--}" "${sent:--}" "${completed:--}" "${lost:--}" "${noerr:--}" \
        "$sutpct" "$usq" "$uppct" "${lgpct:--}" "$foreign" "$cb" "$sat" "$((q1 - q0))" "${rss:--}" "$c" "$notes" \
        | paste -sd '\t' >> "$ROWS_TSV"
    hx_log "  $peer/$row/$role: ${qps:-?} qps, avg ${avg:-?} ms, lost ${lost:-?}, SUT cpu ${sutpct}% ($usq us/query), upstream ${uppct}%, loadgen ${lgpct}%, foreign ${foreign}%, busy before ${busy}%"
}

hx_log "dns-listeners: rows='$ROWS' roles='$ROLES' peers='$PEERS' duration=${DURATION}s clients=$CLIENTS outstanding=$OUTSTANDING"
for role in $ROLES; do
    for peer in $PEERS; do
        case "$peer" in
            dnsdist) version="$(hx_pkg_version dnsdist)" ;;
            gateway) version="${PEER_VERSION:-$(git -C "$SCRIPT_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')}" ;;
            *) hx_die "unknown peer $peer" ;;
        esac
        start_peer "$peer" "$role"
        for row in $ROWS; do
            measure "$peer" "$version" "$row" "$role"
        done
        hx_assert_local_peers
        hx_stop "$peer-$role"
    done
done
upstream_stop

{ (IFS=$'\t'; echo "${COLS[*]}"); cat "$ROWS_TSV"; } > "$OUT_TSV"
mkdir -p "$HX_RESULTS/history" && cp "$OUT_TSV" "$HX_RESULTS/history/dns-listeners-$(date -u -d "$DATE_UTC" +%Y%m%dT%H%M%SZ).tsv"
echo
hx_table "$OUT_TSV" peer row role qps avg_latency_ms lost sut_cpu_pct sut_cpu_us_per_query upstream_cpu_pct loadgen_cpu_pct \
    foreign_cpu_pct core_busy_pct saturated upstream_queries sut_rss_mb check
hx_log "wrote $OUT_TSV (total $(awk -v a="$T_START" -v b="$(hx_now)" 'BEGIN{printf "%.0f", b-a}') s)"
