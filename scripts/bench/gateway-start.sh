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
