#!/usr/bin/env bash
# Runs every test: installs the Debian packages the end-to-end tests need (when missing), then
# `dotnet test` on the solution. End-to-end tests create network namespaces and TUN devices: run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the end-to-end tests start as real peers.
packages=(unbound knot-dnsutils bind9-dnsutils openssl iproute2 iputils-ping curl
          wireguard-go wireguard-tools iperf3 python3
          apache2-utils # http-proxy: htpasswd -B writes the auth tests' users file
          tinyproxy     # http-proxy: the parent proxy of GatewayParentProxyTests (HTTP parent, CONNECT, credentials)
          python3-dnspython afl++   # the DNS differential reference; the fuzzer (docs/fuzzing.md)
          nodejs        # http-proxy: llhttp (Node's HTTP parser) judges our request parser
          podman runc   # kit: the container image test (runc: crun refuses this kernel's hybrid cgroups)
          fstrm-bin dnstap-ldns   # dns-filter: the dnstap collector and reader
          chromium      # console: the page's browser test (Playwright drives /usr/bin/chromium)
          dnsperf nginx)           # soak (scripts/soak.sh), DnsDotUnderLoadTests: DNS load; the HTTP origin
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

# Build once, then run the unit tests and the end-to-end tests one project after the other: on a
# 2-core machine the end-to-end tests (gateway, unbound, wireguard-go, curl…) want the CPU to themselves.
dotnet build Gateway.sln -c Release --nologo -v q
# The benchmarks are not in the solution (BenchmarkDotNet runs them on demand); built here so they cannot rot.
dotnet build tests/Gateway.Benchmarks -c Release --nologo -v q
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
for project in tests/Gateway.Tests tests/Gateway.EndToEnd; do
  dotnet test "$project" -c Release --no-build --nologo "$@" 2>&1 | tee -a "$log" || status=1
done

# Every fuzz target briefly under AFL++ (docs/fuzzing.md): a crash fails the run. FUZZ_SECONDS=0 skips it.
fuzz_seconds=${FUZZ_SECONDS:-8}
if (( fuzz_seconds > 0 )); then
  scripts/fuzz.sh all "$fuzz_seconds" 2>&1 | tee -a "$log" || status=1
fi

# One plain summary line for CI: "N passed, N failed" (a fuzz target without crashes counts as one test).
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
passed=$((passed + $(grep -cE '^fuzz: .* crashes=0 hangs=0$' "$log" || true)))
failed=$((failed + $(grep -cE '^fuzz: .* (crashes=[1-9]|hangs=[1-9])' "$log" || true)))
echo "tests: ${passed} passed, ${failed} failed"
exit $status
