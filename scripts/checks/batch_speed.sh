#!/usr/bin/env bash
# The batch figures of docs/RESULTS.md (issue 21): files per second of umt convert and
# umt synth --engine fluidsynth at --jobs 1 and 2, a 4-task Slurm array on this machine (when
# slurm-wlm and munge are installed), and the per-file cost of a shell loop against one call.
#   scripts/checks/batch_speed.sh [UMT] [WORKDIR]
set -euo pipefail
umt=${1:-build/umt}
work=${2:-$(mktemp -d)}
here=$(cd "$(dirname "$0")/../.." && pwd)
umt=$(cd "$(dirname "$umt")" && pwd)/$(basename "$umt")
mkdir -p "$work"
cd "$work"
rm -rf scores mids o* w* rep cluster loop
now() { date +%s.%N; }
rate() { python3 -c "import sys; n, t = int(sys.argv[1]), float(sys.argv[2]); print(f'{n} files in {t:.2f} s: {n / t:.1f} files/s')" "$@"; }

"$umt" -q generate --count 500 --measures 16 --seed 1 -o scores/
"$umt" -q convert scores --glob 'gen-?.musicxml' --glob 'gen-1?.musicxml' -o mids --to mid
n=$(ls scores | wc -l)
m=$(ls mids | wc -l)
for j in 1 2; do
  t0=$(now); "$umt" -q convert scores -o "o$j" --to lmx --jobs "$j"; t1=$(now)
  echo "convert --jobs $j: $(rate "$n" "$(echo "$t1 - $t0" | bc)")"
done
diff -r o1 o2 >/dev/null && echo "convert: --jobs 2 outputs equal --jobs 1" || echo "convert: OUTPUTS DIFFER"
for j in 1 2; do
  t0=$(now); "$umt" -q synth --engine fluidsynth mids -o "w$j" --jobs "$j"; t1=$(now)
  echo "synth --engine fluidsynth --jobs $j: $(rate "$m" "$(echo "$t1 - $t0" | bc)")"
done
diff -r w1 w2 >/dev/null && echo "synth: --jobs 2 outputs equal --jobs 1" || echo "synth: OUTPUTS DIFFER"

# A shell loop of 20 small files against one folder call.
mkdir -p loop
for i in $(seq 1 20); do cp "scores/gen-$i.musicxml" loop/; done
t0=$(now); for f in loop/*.musicxml; do "$umt" -q convert "$f" -o "${f%.musicxml}.lmx"; done; t1=$(now)
echo "shell loop, 20 files: $(echo "($t1 - $t0) * 1000 / 20" | bc) ms per file"
t0=$(now); for i in $(seq 20); do "$umt" --version >/dev/null; done; t1=$(now)
echo "umt --version: $(echo "($t1 - $t0) * 1000 / 20" | bc) ms per call"
t0=$(now); for i in $(seq 20); do /bin/true; done; t1=$(now)
echo "/bin/true (process start on this machine): $(echo "($t1 - $t0) * 1000 / 20" | bc) ms per call"
rm -f loop/*.lmx
t0=$(now); "$umt" -q convert loop -o loop-out --to lmx; t1=$(now)
echo "one folder call, 20 files: $(echo "($t1 - $t0) * 1000" | bc | cut -d. -f1) ms"

if command -v sbatch >/dev/null && command -v munged >/dev/null; then
  "$here/scripts/slurm/local_cluster.sh" start "$work/cluster" > /dev/null
  t0=$(now)
  SLURM_CONF="$work/cluster/slurm.conf" UMT="$umt" "$here/scripts/slurm/submit.sh" --wait --reports rep 4 \
    convert scores -o oslurm --to lmx > /dev/null 2>&1 || true
  t1=$(now)
  "$here/scripts/slurm/local_cluster.sh" stop "$work/cluster"
  echo "Slurm array of 4 (submit to merged report): $(rate "$n" "$(echo "$t1 - $t0" | bc)")"
  diff -r o1 oslurm >/dev/null && echo "slurm: outputs equal --jobs 1" || echo "slurm: OUTPUTS DIFFER"
fi
