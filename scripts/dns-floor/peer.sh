#!/usr/bin/env bash
# PEER_CMD for ../shared/peers/dns-peers.sh: the zero-work DNS responder, built on first use. Not a forwarder: it
# answers every query itself with one A record, so its CPU per query in the cache role is the floor the kernel's
# path sets on this machine (see BENCHMARKS.md, "DNS cache hits: the floor" and "DNS through the TUN: the floor").
# Peer `custom`: scripts/dns-floor/dnsfloor.c on a host UDP socket (recvmmsg/sendmmsg batches).
# Peer `custom-tun` (HX_TUN=1): scripts/dns-floor/tunfloor.c behind the harness's TUN (one read and one write per query;
# with TUNFLOOR_MODE=uring the same through io_uring, writes of a batch in one submission: needs Debian liburing-dev).
#   sudo PEERS="dnsdist custom custom-tun" PEER_ROLE=cache PEER_NAME=floor PEER_VERSION=c \
#        PEER_CMD=$PWD/scripts/dns-floor/peer.sh ../shared/peers/dns-peers.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ "${HX_TUN:-0}" == 1 ]]; then
    : "${HX_TUN_NAME:?}" "${HX_TUN_ADDR:?}" "${HX_VIRTUAL_ADDR:?}" "${HX_VIRTUAL_PORT:?}"
    bin="${HX_WORK:-/tmp}/tunfloor"
    gcc -O2 -o "$bin" "$here/tunfloor.c" -luring
    exec "$bin" "$HX_TUN_NAME" "$HX_TUN_ADDR" "$HX_VIRTUAL_ADDR" "$HX_VIRTUAL_PORT" ${TUNFLOOR_MODE:-}
fi
: "${HX_LISTEN_ADDR:?}" "${HX_LISTEN_PORT:?}"
bin="${HX_WORK:-/tmp}/dnsfloor"
gcc -O2 -pthread -o "$bin" "$here/dnsfloor.c"
exec "$bin" "$HX_LISTEN_ADDR" "$HX_LISTEN_PORT"
