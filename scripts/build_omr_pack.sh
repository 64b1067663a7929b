#!/usr/bin/env bash
# Rebuilds the OMR training data from the corpus and packs it for a trainer on another machine
# (a GPU's: scripts/train_omr.py --pack), both cores busy: dev systems, then training systems, on
# one; dev excerpts, then training excerpts, on the other. Resumable: a finished piece or chunk is
# kept, so running it again continues.
#
#   scripts/build_omr_pack.sh DATA [TRAIN_PIECES] [EXCERPT_PASSES] [PACK_MB]
#
# DATA (outside the repository) gets DEV/, SYS/, EXC/ and PACK/. TRAIN_PIECES (default 400) bounds
# the training pieces engraved as full systems, EXCERPT_PASSES (default 1) the passes of excerpts;
# the pack is bounded to PACK_MB (default 58 MiB: with the repository's code, without its models,
# a 64 MiB transfer), the share of excerpts lowered until it fits.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: build_omr_pack.sh DATA [TRAIN_PIECES] [EXCERPT_PASSES] [PACK_MB]}
PIECES=${2:-400}; PASSES=${3:-1}; PACK_MB=${4:-58}
CORPUS=../shared/data/lieder
mkdir -p "$DATA"
export QT_QPA_PLATFORM=offscreen
(scripts/build_dataset.py --corpus $CORPUS --split dev --images-only --jobs 1 --out "$DATA/DEV" \
   && scripts/build_dataset.py --corpus $CORPUS --split train --images-only --no-scan --jobs 1 \
        --limit "$PIECES" --out "$DATA/SYS") > "$DATA/systems.log" 2>&1 &
SYSTEMS=$!
(scripts/build_excerpts.py --corpus $CORPUS --split dev --out "$DATA/EXC" \
   && scripts/build_excerpts.py --corpus $CORPUS --split train --passes "$PASSES" --out "$DATA/EXC") \
   > "$DATA/excerpts.log" 2>&1 &
EXCERPTS=$!
wait $SYSTEMS || { echo "build_omr_pack: the systems build failed (see $DATA/systems.log)" >&2; exit 1; }
wait $EXCERPTS || { echo "build_omr_pack: the excerpt build failed (see $DATA/excerpts.log)" >&2; exit 1; }
scripts/pack_omr.py --excerpts "$DATA/EXC" --systems "$DATA/SYS" --dev-systems "$DATA/DEV" \
  --max-mb "$PACK_MB" --out "$DATA/PACK"
