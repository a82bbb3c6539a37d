#!/usr/bin/env bash
# scripts/bench/idle-config.sh DIR scripts|noscripts -- writes DIR/gateway.yaml for the start-up and idle-RSS
# measurements (issue 21, BENCHMARKS.md "Start-up" and "Memory"): dns-dot on loopback with two DoT upstreams on
# loopback (nothing listens there: no traffic, only the pool's connect attempts) and a `corp` group, http-proxy on
# loopback, the admin listener on, wireguard loaded from the plugin folder but without a section (idle, no
# interface); "scripts" adds `rules:` with the three examples/rules scripts copied to DIR/rules. dns-dot's
# stateDirectory is DIR/state, so DIR/state/rules-cache is the compiled-script cache (startup.sh CACHE=cold deletes it).
set -euo pipefail
dir="${1:?usage: idle-config.sh DIR scripts|noscripts}"
mode="${2:?usage: idle-config.sh DIR scripts|noscripts}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
mkdir -p "$dir/state"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rules=""
if [[ "$mode" == scripts ]]; then
    mkdir -p "$dir/rules"
    cp "$repo"/examples/rules/*.csx "$repo"/examples/rules/blocklist.txt "$dir/rules/"
    rules='  rules: ["rules/*.csx"]'
fi
cat >"$dir/gateway.yaml" <<YAML
host:
  admin:
    listen: 127.0.0.1:$(free_port)
dns-dot:
  listen: ["127.0.0.1:$(free_port)"]
  upstreams:
    - { address: "127.0.0.1:$(free_port)", tlsName: "dns.example" }
    - { address: "127.0.0.1:$(free_port)", tlsName: "dns.example" }
  groups:
    corp:
      upstreams: [{ address: "127.0.0.1:$(free_port)", tlsName: "corp.example" }]
  stateDirectory: "$dir/state"
$rules
http-proxy:
  listen: ["127.0.0.1:$(free_port)"]
YAML
echo "$dir/gateway.yaml"
