#!/usr/bin/env bash
# PEER_CMD for ../shared/peers/dns-peers.sh (listen mode, peer "custom"): the gateway's dns-dot with the query
# log file on (GATEWAY_QUERYLOG=1, the default) or off (GATEWAY_QUERYLOG=0), everything else as
# peers/examples/gateway-dns.sh writes it. Used for issue 16's "forwarding qps with the query log on is >= 90 %
# of it off" (BENCHMARKS.md has the commands).
set -euo pipefail
: "${HX_UPSTREAM:?}" "${HX_UPSTREAM_NAME:?}" "${HX_CA:?}" "${HX_LISTEN:?}"
work="${HX_WORK:-$(mktemp -d)}"
mkdir -p "$work"
cfg="$work/gateway.yaml"
q() { local s="${1//\\/\\\\}"; printf '"%s"' "${s//\"/\\\"}"; }
cache=false
[[ "${PEER_ROLE:-}" == cache ]] && cache=true
log=""
if [[ "${GATEWAY_QUERYLOG:-1}" == 1 ]]; then
    log="  queryLog: { path: $(q "$work/query.log"), maxSizeMB: 100, keep: 1 }"
fi
cat > "$cfg" <<YAML
dns-dot:
  listen: [$(q "$HX_LISTEN")]
  upstreams:
    - { address: $(q "$HX_UPSTREAM"), tlsName: $(q "$HX_UPSTREAM_NAME"), caFile: $(q "$HX_CA") }
  cache: { enabled: $cache }
$log
YAML
read -ra gw <<<"${GATEWAY:-gateway}"
unset GATEWAY_QUERYLOG
exec "${gw[@]}" run --config "$cfg"
