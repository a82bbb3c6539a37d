#!/usr/bin/env bash
# scripts/swap-rss.sh [SWAPS] -- the gateway's memory across plugin folder swaps (issue 14, soak's RSS steps): the
# published gateway runs idle on loopback (dns-dot and http-proxy on host sockets), and SWAPS (10) times in turn the
# dns-dot and the http-proxy folder get a new build (a fresh copy with new times, its DLL renamed over the live one,
# as scripts/soak.sh does). After each swap it waits for "unloaded (load context collected)" and prints RSS, the
# GC heap and committed bytes the host logs after the unload (debug) and the thread count. Exit 1 on a refused swap, a leak or a missing unload.
#
#   GATEWAY=/tmp/gw/gateway scripts/swap-rss.sh 10      # a published gateway (default: publish host to $W/publish)
#   LOAD=1 scripts/swap-rss.sh 10                       # the same with curl fetching 1 MiB through the proxy meanwhile
set -uo pipefail
cd "$(dirname "$0")/.."
SWAPS="${1:-10}"
W="${SWAP_RSS_WORK:-/tmp/gateway-swap-rss}"
rm -rf "$W"; mkdir -p "$W"
if [[ -n "${GATEWAY:-}" ]]; then
    PUBLISHED="$(dirname "$GATEWAY")"
else
    dotnet publish host -c Release -o "$W/publish" --nologo -v q >"$W/publish.log" 2>&1 || { tail -20 "$W/publish.log" >&2; exit 2; }
    PUBLISHED="$W/publish"
fi
mkdir -p "$W/plugins" "$W/staging"
cp -a "$PUBLISHED/plugins/dns-dot" "$PUBLISHED/plugins/http-proxy" "$W/plugins/"
plugin_dll() { local f; for f in "$1"/Gateway.Plugins.*.deps.json; do [[ -f "${f%.deps.json}.dll" ]] && { echo "${f%.deps.json}.dll"; return 0; }; done; return 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DNS_PORT=$(free_port); PROXY_PORT=$(free_port); ORIGIN_PORT=$(free_port)
cat >"$W/gateway.yaml" <<EOF
host:
  plugins: ["$W/plugins"]
  drainTimeoutSeconds: 30
dns-dot:
  listen: ["127.0.0.1:$DNS_PORT"]
  upstreams:
    - { address: "127.0.0.1:853", tlsName: "dns.example" }
http-proxy:
  listen: ["127.0.0.1:$PROXY_PORT"]
EOF
head -c $((1024 * 1024)) /dev/urandom >"$W/1m.bin"
python3 -m http.server "$ORIGIN_PORT" --bind 127.0.0.1 --directory "$W" >/dev/null 2>&1 &
ORIGIN_PID=$!
"$PUBLISHED/gateway" run --config "$W/gateway.yaml" --verbosity debug >"$W/gateway.log" 2>&1 &
GW_PID=$!
LOAD_PID=""
cleanup() {
    [[ -n "$LOAD_PID" ]] && kill "$LOAD_PID" 2>/dev/null
    kill "$ORIGIN_PID" 2>/dev/null
    kill -TERM "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
}
trap cleanup EXIT
for _ in $(seq 600); do grep -q "gateway ready" "$W/gateway.log" && break; sleep 0.1; done
grep -q "gateway ready" "$W/gateway.log" || { echo "gateway did not start" >&2; cat "$W/gateway.log" >&2; exit 2; }
if [[ -n "${LOAD:-}" ]]; then
    ( while :; do curl -s -o /dev/null -x "http://127.0.0.1:$PROXY_PORT" "http://127.0.0.1:$ORIGIN_PORT/1m.bin"; done ) &
    LOAD_PID=$!
fi
count() { grep -c "$1" "$W/gateway.log"; }
sample() {   # RSS and threads now; the GC heap and committed bytes the host logged after the last unload (debug, 1117)
    local rss threads heap committed
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$GW_PID/status")
    threads=$(awk '/^Threads/ {print $2}' "/proc/$GW_PID/status")
    read -r heap committed < <(grep "memory after the unload" "$W/gateway.log" | tail -1 | sed -E 's/.*GC heap ([0-9.]+) MiB, committed ([0-9.]+) MiB.*/\1 \2/'; echo "- -")
    printf '%-5s %-11s %9.1f %9s %10s %7d\n' "$1" "$2" "$(awk -v r="$rss" 'BEGIN{print r/1024}')" "${heap:--}" "${committed:--}" "$threads"
}
printf '%-5s %-11s %9s %9s %10s %7s\n' swap plugin rss_MiB heap_MiB commit_MiB threads
sleep 5
sample 0 start
for ((i = 1; i <= SWAPS; i++)); do
    for id in dns-dot http-proxy; do
        before=$(count "plugin $id: unloaded (load context collected)")
        dll="$(plugin_dll "$W/plugins/$id")"; name="$(basename "$dll")"
        rm -rf "$W/staging/$id"; cp -r "$PUBLISHED/plugins/$id" "$W/staging/$id"; touch "$W/staging/$id/$name"
        mv -f "$W/staging/$id/$name" "$dll"
        for _ in $(seq 600); do (( $(count "plugin $id: unloaded (load context collected)") > before )) && break; sleep 0.1; done
        (( $(count "plugin $id: unloaded (load context collected)") > before )) || { echo "swap $i: $id not unloaded within 60 s" >&2; exit 1; }
        sleep 2
        sample "$i" "$id"
    done
done
sleep 10
sample end idle
if grep -E 'leak|the new build was not taken|start failed' "$W/gateway.log" >&2; then exit 1; fi
