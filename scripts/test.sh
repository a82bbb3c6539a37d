#!/usr/bin/env bash
# Runs every test: installs the Debian packages the end-to-end tests need (when missing), then
# `dotnet test` on the solution. End-to-end tests create network namespaces and TUN devices: run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the end-to-end tests start as real peers.
packages=(unbound knot-dnsutils bind9-dnsutils openssl iproute2 iputils-ping curl
          wireguard-go wireguard-tools iperf3 python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "test.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Never start the packages' stock services (unbound would start with its root-server config).
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

dotnet test Gateway.sln -c Release "$@"
