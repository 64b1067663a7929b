#!/usr/bin/env bash
# Runs the whole test suite: unit and integration tests (ctest), then each fuzzer briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build -j "$(nproc)"
ctest --test-dir build --output-on-failure -j "$(nproc)"
scripts/fuzz.sh "${UMT_FUZZ_SECONDS:-30}"
