#!/usr/bin/env bash
# Fuzzes one target with AFL++ and SharpFuzz (docs/fuzzing.md):
#   scripts/fuzz.sh TARGET [SECONDS]     run TARGET for SECONDS (default 60), resuming its findings
#   scripts/fuzz.sh all [SECONDS]        every target in turn (what CI does, briefly)
#   scripts/fuzz.sh list                 the targets
#   FUZZ_EXECS=1000000 scripts/fuzz.sh TARGET SECONDS   stop after about that many executions (or SECONDS)
# Publishes tests/Gateway.Fuzz, instruments the gateway's assemblies (SharpFuzz.CommandLine) when the sources
# changed, installs afl++ from Debian when missing. Work folder: $FUZZ_WORK (default artifacts/fuzz; not in git):
# findings/TARGET/ holds AFL's queue, crashes and hangs. Exit 1 when a run found a crash or a hang: each input is
# printed, and `dotnet $FUZZ_WORK/bin/Gateway.Fuzz.dll TARGET FILE` replays it; keep it under
# tests/Gateway.Fuzz/Crashes/TARGET/ (replayed by Gateway.Tests) and fix the code.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=${1:?usage: scripts/fuzz.sh TARGET|all|list [SECONDS]}
seconds=${2:-60}
work=${FUZZ_WORK:-$root/artifacts/fuzz}
bin=$work/bin
mkdir -p "$work"

if ! command -v afl-fuzz >/dev/null; then
  echo "fuzz.sh: installing afl++" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends afl++ >/dev/null
fi

sharpfuzz=$work/tools/sharpfuzz
if [[ ! -x $sharpfuzz ]]; then
  dotnet tool install --tool-path "$work/tools" SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi

# Publish and instrument once per source change: the stamp records the newest source file it was built from.
newest=$(find sdk host plugins tests/Gateway.Fuzz Directory.Packages.props Directory.Build.props \
  \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' \) -not -path '*/obj/*' -not -path '*/bin/*' \
  -printf '%T@ %p\n' | sort -n | tail -1)
# FUZZ_REBUILD=0 keeps an existing build (parallel runs sharing one work folder while the sources change).
if [[ ${FUZZ_REBUILD:-1} == 0 && -f $work/stamp ]]; then
  :
elif [[ ! -f $work/stamp || $(cat "$work/stamp") != "$newest" ]]; then
  rm -rf "$bin"
  dotnet publish tests/Gateway.Fuzz -c Release -o "$bin" --nologo -v q -p:TreatWarningsAsErrors=true > "$work/publish.log" 2>&1 ||
    { cat "$work/publish.log" >&2; exit 1; }
  # The gateway's own assemblies and the YAML parser behind gateway.yaml; not the harness, not the BCL.
  for dll in Gateway.Sdk.dll gateway.dll Gateway.Plugins.DnsDot.dll Gateway.Plugins.WireGuard.dll Gateway.Plugins.HttpProxy.dll YamlDotNet.dll; do
    "$sharpfuzz" "$bin/$dll" >/dev/null
  done
  echo "$newest" > "$work/stamp"
fi

if [[ $target == list ]]; then
  exec dotnet "$bin/Gateway.Fuzz.dll" list
fi

if [[ $target == all ]]; then
  status=0
  for t in $(dotnet "$bin/Gateway.Fuzz.dll" list | awk 'NR > 2 {print $1}'); do
    "$0" "$t" "$seconds" || status=1
  done
  exit $status
fi

corpus=$root/tests/Gateway.Fuzz/Corpus/$target
[[ -d $corpus ]] || { echo "fuzz.sh: no corpus at $corpus (is '$target' a target? scripts/fuzz.sh list)" >&2; exit 2; }
findings=$work/findings/$target
mkdir -p "$work/findings"
input=$corpus
if [[ -d $findings/default/queue ]]; then
  input=-   # resume: the queue of the previous run is the corpus now
fi

# dotnet itself is not instrumented (SharpFuzz instruments the assemblies), hence SKIP_BIN_CHECK; the runtime's
# start-up is slow for AFL's default fork-server wait; no CPU binding on a shared machine.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_FORKSRV_INIT_TMOUT=120000 \
  AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 DOTNET_TieredPGO=0
start=$(date +%s)
limits=(-V "$seconds")
[[ -n ${FUZZ_EXECS:-} ]] && limits+=(-E "$FUZZ_EXECS")
# Now and then (about 1 start in 20 for http-chunked, seen on a quiet machine too) afl-fuzz aborts its dry run with
# "No instrumentation detected": the first execution reported an empty coverage map although the same input covers
# code on every other start. It is a start-up race, not a finding: start again (at most three times), fresh.
for attempt in 1 2 3; do
  afl-fuzz -i "$input" -o "$findings" "${limits[@]}" -t 10000 -m none -- "$(command -v dotnet)" "$bin/Gateway.Fuzz.dll" "$target" \
    > "$work/$target.log" 2>&1 && break
  if (( attempt < 3 )) && grep -q "No instrumentation detected" "$work/$target.log"; then
    echo "fuzz.sh: $target: afl-fuzz saw no coverage on its first execution (start $attempt); starting again" >&2
    [[ $input == - ]] || rm -rf "$findings"
    continue
  fi
  tail -30 "$work/$target.log" >&2
  exit 1
done

stats=$findings/default/fuzzer_stats
value() { awk -F' *: *' -v k="$1" '$1 == k {print $2}' "$stats"; }
execs=$(value execs_done); crashes=$(value saved_crashes); hangs=$(value saved_hangs)
echo "fuzz: $target $((  $(date +%s) - start ))s execs=$execs execs_per_sec=$(value execs_per_sec) corpus=$(value corpus_count) crashes=$crashes hangs=$hangs"
if (( crashes > 0 || hangs > 0 )); then
  for f in "$findings"/default/crashes/id* "$findings"/default/hangs/id*; do
    [[ -f $f ]] || continue
    echo "--- $f" >&2
    # The input itself, so a crash found on a CI machine can be replayed elsewhere: base64 -d > FILE.
    echo "base64 (first 4 KiB): $(head -c 4096 "$f" | base64 -w0)" >&2
    dotnet "$bin/Gateway.Fuzz.dll" "$target" "$f" 2>&1 | head -5 >&2 || true
  done
  exit 1
fi
