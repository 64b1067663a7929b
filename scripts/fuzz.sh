#!/usr/bin/env bash
# Builds the libFuzzer harnesses in fuzz/ with clang and runs each for SECONDS (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
ls fuzz/*.cpp >/dev/null 2>&1 || { echo "fuzz: no harnesses"; exit 0; }
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DUMT_BUILD_FUZZERS=ON -DUMT_BUILD_TESTS=OFF -DUMT_BUILD_BENCH=OFF >/dev/null
for src in fuzz/*.cpp; do
  name=$(basename "$src" .cpp)
  cmake --build build-fuzz --target "$name" -j "$(nproc)" >/dev/null || { echo "fuzz: building $name failed"; exit 1; }
  corpus="build-fuzz/corpus-$name"
  mkdir -p "$corpus"
  seeds="fuzz/seeds/$name"
  echo "fuzz: $name for ${secs}s"
  if [ -d "$seeds" ]; then
    build-fuzz/"$name" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=0 "$corpus" "$seeds" 2>&1 | tail -3
  else
    build-fuzz/"$name" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=0 "$corpus" 2>&1 | tail -3
  fi
done
