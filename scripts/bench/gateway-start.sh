# Sourced by startup.sh and idle-rss.sh: start_gateway GW CFG LOG POLL starts `GW/gateway run --config CFG/gateway.yaml`
# with its output in LOG, sets pid, and returns once LOG has "gateway ready" (checked every POLL seconds); exits 2
# with the log when the gateway ends first.
start_gateway() {
    : >"$3"
    "$1/gateway" run --config "$2/gateway.yaml" >"$3" 2>&1 &
    pid=$!
    until grep -q "gateway ready" "$3"; do
        kill -0 "$pid" 2>/dev/null || { echo "gateway exited before ready:" >&2; cat "$3" >&2; exit 2; }
        sleep "$4"
    done
}

# wait_rules LOG POLL: when the config has rule scripts, returns once LOG says they loaded ("rules loaded:") or failed
# ("rule scripts not loaded"). With dns-dot.rulesStartup: fast (the default) a cold-cache start is ready before its
# scripts compiled; a start meant to fill the compiled-script cache must not be stopped before that.
wait_rules() {
    grep -q '\.csx' "$cfg/gateway.yaml" || return 0
    until grep -q -e "rules loaded: " -e "rule scripts not loaded" "$1"; do
        kill -0 "$pid" 2>/dev/null || { echo "gateway exited before its rule scripts loaded:" >&2; cat "$1" >&2; exit 2; }
        sleep "$2"
    done
}
