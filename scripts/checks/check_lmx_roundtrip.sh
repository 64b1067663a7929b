#!/usr/bin/env bash
# The issue's chain over every Lieder score with the real CLI, in batch:
#   umt convert X.mxl -> X.lmx -> Y.musicxml -> Y.lmx, then Y.lmx == X.lmx and
#   X.lmx == the published reference LMX. Prints a table of counts.
# Usage: scripts/checks/check_lmx_roundtrip.sh [UMT] [LIEDER_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
umt="${1:-build/umt}"
lieder="${2:-../shared/data/lieder}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf "%-6s %7s %14s %14s %8s\n" split scores "X.lmx==ref" "Y.lmx==X.lmx" seconds
for split in train dev; do
  start=$(date +%s)
  "$umt" -q convert "$lieder/$split" -o "$work/$split/x" --to lmx || true
  "$umt" -q convert "$work/$split/x" -o "$work/$split/y" --to musicxml || true
  "$umt" -q convert "$work/$split/y" -o "$work/$split/z" --to lmx || true
  secs=$(( $(date +%s) - start ))
  total=0; gold=0; same=0
  for f in "$lieder/$split"/*.mxl; do
    id=$(basename "$f" .mxl); total=$((total + 1))
    x="$work/$split/x/$id.lmx"; z="$work/$split/z/$id.lmx"
    [ -f "$x" ] && cmp -s <(tr -s ' \n' '\n\n' < "$x") <(tr -s ' \n' '\n\n' < "$lieder/lmx/$split/$id.lmx") && gold=$((gold + 1))
    if [ -f "$x" ] && [ -f "$z" ] && cmp -s "$x" "$z"; then same=$((same + 1)); else echo "  differs: $split/$id" >&2; fi
  done
  printf "%-6s %7d %14d %14d %8d\n" "$split" "$total" "$gold" "$same" "$secs"
done
