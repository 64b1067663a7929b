#!/usr/bin/env bash
# Before/after check of a refactor: runs every task of umt on the shipped bundle over a fixed small
# set of inputs from tests/data/ (fixed seeds and threads) and prints the SHA-256 of every output,
# one "HASH  NAME" line each, sorted. Run it on the tree before a change and after it; the two
# lists must be equal byte for byte when the change preserves behaviour:
#
#   scripts/checks/same_outputs.sh build/umt > before.sha256
#   ... change, rebuild ...
#   scripts/checks/same_outputs.sh build/umt | diff before.sha256 -
#
# Arguments: the umt binary (default build/umt) and optionally a work folder to keep the outputs
# in (default: a temporary folder, removed at the end). Takes a few minutes on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/../.."

UMT=$(realpath "${1:-build/umt}")
WORK=${2:-}
if [ -z "$WORK" ]; then
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
MODELS=models/default
PAGE=tests/data/media/lieder-lc4945954-p4.png
SCORE=tests/data/midi/two_staves.musicxml
MIDI=tests/data/midi/musescore_two_staves.mid
SF=/usr/share/sounds/sf2/FluidR3_GM.sf2

# Every model task with the same threads and seed, so sampling tasks are reproducible.
run() { "$UMT" -q --models "$MODELS" "$@" --threads 2 --seed 7; }
plain() { "$UMT" -q "$@"; }

# Inputs are copied into the work folder and named relatively, so no output records where the
# tree lies (systems.json names its source).
MODELS=$(realpath "$MODELS")
mkdir -p "$WORK/inputs"
cp "$PAGE" "$SCORE" "$MIDI" "$WORK/inputs/"
cd "$WORK"
PAGE=inputs/$(basename "$PAGE") SCORE=inputs/$(basename "$SCORE") MIDI=inputs/$(basename "$MIDI")

# Layout: a page into normalized systems (and their JSON).
plain systems "$PAGE" -o systems >/dev/null
SYSTEM=systems/lieder-lc4945954-p4-s01.png

# Exact conversions.
plain convert "$SCORE" -o convert-score.lmx
plain convert "$SCORE" -o convert-systems.lmx --systems
plain convert "$SCORE" -o convert-score.mid
plain convert "$SCORE" -o convert-score.mxl
plain convert convert-score.lmx -o convert-lmx.musicxml
plain convert "$MIDI" -o convert-midi.musicxml

# A short recording: FluidSynth audio of the test MIDI, cut to its first 6 s.
plain synth --engine fluidsynth --soundfont "$SF" "$MIDI" -o fluidsynth.wav
python3 - fluidsynth.wav recording.wav <<'EOF'
import sys, wave
with wave.open(sys.argv[1]) as w:
    params, frames = w.getparams(), w.readframes(int(6.0 * w.getframerate()))
with wave.open(sys.argv[2], "wb") as o:
    o.setparams(params)
    o.writeframes(frames)
EOF

# The neural tasks.
run omr "$SYSTEM" -o omr-system.musicxml
run omr "$SYSTEM" -o omr-system.lmx
run omr "$SYSTEM" -o omr-one-part.lmx --one-part
run amt recording.wav -o amt.mid
run engrave "$SCORE" -o engrave.png --measures 2
run engrave convert-systems.lmx -o engrave-lmx.png
run synth --engine neural "$MIDI" -o synth-neural.wav
run synth --engine neural "$MIDI" -o synth-neural-batched.wav --prime 0
run i2a "$SYSTEM" -o i2a-direct.wav
run i2a "$SYSTEM" -o i2a-staged.wav --pipeline staged
run i2a "$SYSTEM" -o i2a-staged-neural.wav --pipeline staged --engine neural
run a2i recording.wav -o a2i-direct.png
run a2i recording.wav -o a2i-staged.png --pipeline staged --measures 2
"$UMT" -q --models "$MODELS" codec image "$SYSTEM" -o codec-image.png --threads 2
"$UMT" -q --models "$MODELS" codec audio recording.wav -o codec-audio.wav --threads 2

# An .mxl is a zip whose entries carry the time they were written: its entries' contents count.
find . -type f ! -name fluidsynth.wav ! -path './inputs/*' | sort | while read -r f; do
  case "$f" in
    *.mxl) echo "$(unzip -p "$f" | sha256sum | cut -d' ' -f1)  ${f#./} (contents)" ;;
    *) echo "$(sha256sum < "$f" | cut -d' ' -f1)  ${f#./}" ;;
  esac
done
