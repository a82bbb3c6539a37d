#!/usr/bin/env bash
# PEER_CMD for ../shared/peers/dns-peers.sh: the zero-work DNS responder (scripts/dns-floor/dnsfloor.c), built on
# first use. Not a forwarder: it answers every query itself with one A record, so its CPU per query in the cache
# role is the floor the kernel's UDP path sets on this machine (see BENCHMARKS.md, "DNS cache hits: the floor").
#   sudo PEERS="dnsdist custom" PEER_ROLE=cache PEER_NAME=floor PEER_VERSION=c \
#        PEER_CMD=$PWD/scripts/dns-floor/peer.sh ../shared/peers/dns-peers.sh
set -euo pipefail
: "${HX_LISTEN_ADDR:?}" "${HX_LISTEN_PORT:?}"
here="$(cd "$(dirname "$0")" && pwd)"
bin="${HX_WORK:-/tmp}/dnsfloor"
gcc -O2 -pthread -o "$bin" "$here/dnsfloor.c"
exec "$bin" "$HX_LISTEN_ADDR" "$HX_LISTEN_PORT"
