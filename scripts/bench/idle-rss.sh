#!/usr/bin/env bash
# scripts/bench/idle-rss.sh GATEWAY_DIR CONFIG_DIR [RUNS] -- idle memory of the published gateway (issue 21): RUNS (3)
# times: start `gateway run`, wait for "gateway ready", wait 30 s with no traffic, then print VmRSS (MB) and its
# split (anonymous / file-backed, from /proc/PID/status), and whether any Roslyn file is mapped; then the median.
# CACHE=warm (default) fills the compiled-script cache with one unmeasured start first; CACHE=cold empties it before
# each run. MAPS=1 also prints the mapped .dll files by resident size (/proc/PID/smaps) for the last run, and
# ASSEMBLIES lists them by name only. Not a timing run, so it does not queue for /tmp/gateway-bench.lock unless
# LOCK=1 (an idle gateway uses no CPU after its start; other load changes timings, not this RSS).
#
#   scripts/bench/idle-config.sh /tmp/su scripts && scripts/bench/idle-rss.sh /tmp/gw-publish /tmp/su 3
set -euo pipefail
gw="${1:?usage: idle-rss.sh GATEWAY_DIR CONFIG_DIR [RUNS]}"
cfg="${2:?usage: idle-rss.sh GATEWAY_DIR CONFIG_DIR [RUNS]}"
runs="${3:-3}"
cache="${CACHE:-warm}"
idle="${IDLE_SECONDS:-30}"
if [[ "${LOCK:-0}" == 1 ]]; then exec 9>/tmp/gateway-bench.lock; flock 9; fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# shellcheck source=gateway-start.sh
source "$(dirname "$0")/gateway-start.sh"
start() { start_gateway "$gw" "$cfg" "$log" 0.05; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); cache=$cache; $gw; $cfg"
if [[ "$cache" == warm ]]; then
    rm -rf "$cfg/state/rules-cache"; start; wait_rules "$log" 0.05; kill -TERM "$pid"; wait "$pid" || true
fi
values=()
for i in $(seq "$runs"); do
    [[ "$cache" == cold ]] && rm -rf "$cfg/state/rules-cache"
    start
    sleep "$idle"
    read -r rss anon file < <(awk '/^VmRSS/ { r = $2 } /^RssAnon/ { a = $2 } /^RssFile/ { f = $2 } /^RssShmem/ { f += $2 } END { printf "%.1f %.1f %.1f\n", r / 1024, a / 1024, f / 1024 }' "/proc/$pid/status")
    roslyn=$(grep -c "Microsoft.CodeAnalysis" "/proc/$pid/maps" || true)
    echo "run $i: VmRSS $rss MB (anonymous $anon, file + shmem $file); Roslyn mappings: $roslyn$(grep -o 'rule scripts loaded from cache' "$log" | head -1 | sed 's/^/; /')"
    values+=("$rss")
    if [[ "$i" == "$runs" && "${MAPS:-0}" == 1 ]]; then
        awk '/^[0-9a-f]+-[0-9a-f]+ / { name = $6 } /^Rss:/ { rss[name] += $2 } END { for (n in rss) if (rss[n] >= 64) printf "%8.1f MB  %s\n", rss[n] / 1024, (n == "" ? "[anonymous]" : n) }' "/proc/$pid/smaps" | sort -rn | head -60
    fi
    if [[ "$i" == "$runs" && -n "${ASSEMBLIES:-}" ]]; then
        grep -o '[^/ ]*\.dll$' "/proc/$pid/maps" | sort -u | tr '\n' ' '; echo
    fi
    kill -TERM "$pid"; wait "$pid" || true
done
printf '%s\n' "${values[@]}" | sort -n | awk '{ v[NR] = $1 } END { print "median VmRSS MB: " ((NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
