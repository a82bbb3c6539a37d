#!/usr/bin/env bash
# Runs the side-by-side benchmarks of ../shared/peers (dns forward, dns cache, wireguard, http) RUNS times
# against a freshly published gateway, keeps every run's TSV in OUT, and prints the medians and ratios
# (scripts/peers-summary.py). Needs root (the peers scripts create namespaces) and a quiet machine.
#   sudo scripts/peers-bench.sh                      # 3 runs of everything, ~15 min
#   RUNS=1 WHICH="dns-forward wg" sudo scripts/peers-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
WHICH=${WHICH:-"dns-forward dns-cache wg http"}
PEERS_DIR=${PEERS_DIR:-$(cd ../shared/peers && pwd)}
OUT=${OUT:-/tmp/gateway-bench/$(date -u +%Y%m%dT%H%M%SZ)}
PUBLISH=${PUBLISH:-/tmp/gateway-bench/publish}
mkdir -p "$OUT"
dotnet publish host -c Release -o "$PUBLISH" >/dev/null
export GATEWAY="$PUBLISH/gateway" PEER_NAME=gateway PEER_VERSION="$(git rev-parse --short HEAD)" QUIET_WAIT="${QUIET_WAIT:-30}"
results="${PEERS_WORK:-/tmp/gateway-peers}/results"

# The gateway's memory during the runs: VmRSS of every running `gateway run` once a second (rss.tsv:
# benchmark-run, time, pid, kB).
( while sleep 1; do
      for pid in $(pgrep -f "$PUBLISH/gateway run" || true); do
          printf '%s\t%s\t%s\t%s\n' "$(cat "$OUT/current" 2>/dev/null)" "$(date -u +%H:%M:%S)" "$pid" "$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null)"
      done
  done ) >"$OUT/rss.tsv" &
sampler=$!
trap 'kill $sampler 2>/dev/null || true' EXIT
for run in $(seq 1 "$RUNS"); do
    for what in $WHICH; do
        echo "$what-$run" >"$OUT/current"
        case "$what" in
            dns-forward) PEERS="dnsdist custom" PEER_ROLE=forward PEER_CMD="$PEERS_DIR/examples/gateway-dns.sh" "$PEERS_DIR/dns-peers.sh" >"$OUT/$what-$run.log" 2>&1
                         cp "$results/dns-peers.tsv" "$OUT/$what-$run.tsv" ;;
            dns-cache)   PEERS="dnsdist custom" PEER_ROLE=cache PEER_CMD="$PEERS_DIR/examples/gateway-dns.sh" "$PEERS_DIR/dns-peers.sh" >"$OUT/$what-$run.log" 2>&1
                         cp "$results/dns-peers.tsv" "$OUT/$what-$run.tsv" ;;
            wg)          PEERS="wireguard-go custom custom-both" PEER_CMD="$PEERS_DIR/examples/gateway-wg.sh" "$PEERS_DIR/wg-peers.sh" >"$OUT/$what-$run.log" 2>&1
                         cp "$results/wg-peers.tsv" "$OUT/$what-$run.tsv" ;;
            http)        PEERS="direct tinyproxy custom" PEER_CMD="$PEERS_DIR/examples/gateway-http.sh" "$PEERS_DIR/http-peers.sh" >"$OUT/$what-$run.log" 2>&1
                         cp "$results/http-peers.tsv" "$OUT/$what-$run.tsv" ;;
            *) echo "unknown benchmark: $what" >&2; exit 2 ;;
        esac
        echo "run $run: $what done ($OUT/$what-$run.tsv)"
    done
done
python3 scripts/peers-summary.py "$OUT"
