#!/usr/bin/env bash
# scripts/bench/startup.sh GATEWAY_DIR CONFIG_DIR [RUNS] -- start-up of the published gateway (issue 21): RUNS (5)
# times `GATEWAY_DIR/gateway run --config CONFIG_DIR/gateway.yaml`, each until it prints "gateway ready"; prints per
# run the wall seconds from exec to that line and the process's CPU seconds (user + system, all threads, from
# /proc/PID/stat) at that moment, then the medians. The gateway is stopped (SIGTERM) after each run; its shutdown
# is not counted. CACHE=cold deletes CONFIG_DIR/state/rules-cache before each run (Roslyn compiles the rule scripts),
# CACHE=warm (default) keeps it (one unmeasured run first fills it). Takes /tmp/gateway-bench.lock (flock) so timing
# runs do not overlap (waits at most LOCK_WAIT seconds, default 1800); prints the load average before and after.
#
#   scripts/bench/idle-config.sh /tmp/su scripts && scripts/bench/startup.sh /tmp/gw-publish /tmp/su 5
set -euo pipefail
gw="${1:?usage: startup.sh GATEWAY_DIR CONFIG_DIR [RUNS]}"
cfg="${2:?usage: startup.sh GATEWAY_DIR CONFIG_DIR [RUNS]}"
runs="${3:-5}"
cache="${CACHE:-warm}"
exec 9>/tmp/gateway-bench.lock
flock -w "${LOCK_WAIT:-1800}" 9 || { echo "the benchmark lock stayed taken for ${LOCK_WAIT:-1800} s" >&2; exit 3; }
tick=$(getconf CLK_TCK)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# shellcheck source=gateway-start.sh
source "$(dirname "$0")/gateway-start.sh"

one() {   # prints "wall_s cpu_s" of one start
    local start wall cpu
    start=$(date +%s%N)
    start_gateway "$gw" "$cfg" "$log" 0.005
    wall=$(( $(date +%s%N) - start ))
    cpu=$(awk -v t="$tick" '{ print ($14 + $15) / t }' "/proc/$pid/stat")
    kill -TERM "$pid"; wait "$pid" || true
    echo "$(awk -v w="$wall" 'BEGIN { printf "%.3f", w / 1e9 }') $cpu"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); cache=$cache; $gw; $cfg"
[[ "$cache" == warm ]] && { rm -rf "$cfg/state/rules-cache"; one >/dev/null; }
results=()
for i in $(seq "$runs"); do
    [[ "$cache" == cold ]] && rm -rf "$cfg/state/rules-cache"
    r=$(one)
    results+=("$r")
    echo "run $i: wall ${r% *} s, cpu ${r#* } s$(grep -o 'rule scripts loaded from cache' "$log" | head -1 | sed 's/^/, /')"
done
printf '%s\n' "${results[@]}" | awk '{ print $1 }' | median | sed 's/^/median wall s: /'
printf '%s\n' "${results[@]}" | awk '{ print $2 }' | median | sed 's/^/median cpu s: /'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
