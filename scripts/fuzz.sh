#!/usr/bin/env bash
# Builds the libFuzzer harnesses in fuzz/ with clang and runs each for SECONDS (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
ls fuzz/*.cpp >/dev/null 2>&1 || { echo "fuzz: no harnesses"; exit 0; }
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DUMT_BUILD_FUZZERS=ON -DUMT_BUILD_TESTS=OFF -DUMT_BUILD_BENCH=OFF >/dev/null
# Input caps per harness. Every word sequence is valid LMX, so each fuzz_lmx input runs the whole
# tokenizer -> delinearizer -> MusicXML writer -> parser -> linearizer round trip on a score as long
# as the input (64 KB of LMX is ~150 measures, 0.5 MB of MusicXML: tens of milliseconds under the
# sanitizers), while most mutated MusicXML or MIDI bytes are rejected by the first parser in
# microseconds. 2 KB of LMX (~350 tokens, a system or two) reaches every branch of the LMX code.
# Such a run also touches thousands of coverage features, and libFuzzer's entropic schedule then
# spends a third of the time updating their frequencies (measured with perf): off for fuzz_lmx,
# which doubles its executions per second.
max_len() {
  case "$1" in
    fuzz_lmx) echo 2048 ;;
    *) echo 65536 ;;
  esac
}
schedule() {
  case "$1" in
    fuzz_lmx) echo -entropic=0 ;;
  esac
}
for src in fuzz/*.cpp; do
  name=$(basename "$src" .cpp)
  cmake --build build-fuzz --target "$name" -j "$(nproc)" >/dev/null || { echo "fuzz: building $name failed"; exit 1; }
  corpus="build-fuzz/corpus-$name"
  mkdir -p "$corpus"
  seeds="fuzz/seeds/$name"
  dirs=("$corpus")
  [ -d "$seeds" ] && dirs+=("$seeds")
  log="build-fuzz/$name.log"
  rc=0
  build-fuzz/"$name" -max_total_time="$secs" -max_len="$(max_len "$name")" -rss_limit_mb=2048 \
    $(schedule "$name") -print_final_stats=1 "${dirs[@]}" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  if [ "$rc" -ne 0 ]; then
    tail -40 "$log"
    echo "fuzz: $name failed (exit $rc); the crashing input is named above"
    exit 1
  fi
  echo "fuzz: $name: ${runs:-?} executions in ${took:-$secs} s ($(( ${runs:-0} / ${took:-$secs} )) per second), max input $(max_len "$name") bytes"
done
