#!/usr/bin/env bash
# scripts/bench/startup.sh GATEWAY_DIR CONFIG_DIR [RUNS] -- start-up of the published gateway (issue 21): RUNS (5)
# times `GATEWAY_DIR/gateway run --config CONFIG_DIR/gateway.yaml`, each until it prints "gateway ready"; prints per
# run the wall seconds from exec to that line and the process's CPU seconds (user + system, all threads, from
# /proc/PID/stat) at that moment, then the medians. The gateway is stopped (SIGTERM) after each run; its shutdown
# is not counted. CACHE=cold deletes CONFIG_DIR/state/rules-cache before each run (Roslyn compiles the rule scripts:
# before ready with dns-dot.rulesStartup: wait, after it with fast or refuse), CACHE=warm (default) keeps it (one
# unmeasured run first fills it, waiting for the scripts to load). SCRIPTS_READY=1 also prints per run when the rule
# scripts were in use ("rules loaded:" in the log; after the ready line with a cold cache and fast or refuse).
# Takes /tmp/gateway-bench.lock (flock) so timing runs do not overlap (waits at most LOCK_WAIT seconds, default
# 1800); prints the load average before and after.
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
    if [[ "${SCRIPTS_READY:-0}" == 1 ]]; then
        wait_rules "$log" 0.01
        echo "  scripts ready: wall $(awk -v w="$(( $(date +%s%N) - start ))" 'BEGIN { printf "%.3f", w / 1e9 }') s, cpu $(awk -v t="$tick" '{ print ($14 + $15) / t }' "/proc/$pid/stat") s" >&2
    fi
    kill -TERM "$pid"; wait "$pid" || true
    echo "$(awk -v w="$wall" 'BEGIN { printf "%.3f", w / 1e9 }') $cpu"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); cache=$cache; $gw; $cfg"
# The fill run waits for the scripts to load before it stops the gateway (rulesStartup: fast compiles after ready).
[[ "$cache" == warm ]] && { rm -rf "$cfg/state/rules-cache"; start_gateway "$gw" "$cfg" "$log" 0.05; wait_rules "$log" 0.05; kill -TERM "$pid"; wait "$pid" || true; }
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
