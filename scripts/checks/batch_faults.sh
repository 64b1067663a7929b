#!/usr/bin/env bash
# The batch failure test of issue 21 section 5, by hand (it takes a minute or two):
#   scripts/checks/batch_faults.sh [UMT] [WORKDIR]
# Builds a folder of 1,000 inputs (MusicXML, .mxl and MIDI, plus WAV files that convert does not
# take) of which 100 are corrupt (truncated, random bytes, empty, the wrong format for their
# extension) and a folder named like a score; converts it with a report and checks: every good
# input converted, every bad one failed with its reason, no output for a failure, no empty or
# temporary file left. Then the kill test: the same batch killed with SIGKILL midway and run
# again must finish without redoing finished files, and every output must equal the
# uninterrupted run's. Prints the figures; exit 1 on any violation.
set -euo pipefail
umt=${1:-build/umt}
work=${2:-$(mktemp -d)}
umt=$(cd "$(dirname "$umt")" && pwd)/$(basename "$umt")
mkdir -p "$work"
cd "$work"
rm -rf in out out2 tmp r*.jsonl
fail=0
problem() { echo "FAIL: $*"; fail=1; }

# --- 900 good inputs: 500 MusicXML, 100 .mxl, 300 MIDI, in nested folders; 50 WAV (not inputs).
"$umt" -q generate --count 500 --measures 8 --seed 1 -o tmp/xml/
for i in $(seq 0 499); do
  d=in/set$((i % 5))/$((i % 3))
  mkdir -p "$d"
  mv "tmp/xml/gen-$((i + 1)).musicxml" "$d/score$i.musicxml"
done
"$umt" -q generate --count 400 --measures 8 --seed 1001 -o tmp/more/
"$umt" -q convert tmp/more --glob 'gen-1[01]??.musicxml' -o tmp/mxl --to mxl || true
"$umt" -q convert tmp/more -o tmp/mid --to mid
n=0
for f in $(ls tmp/mxl/*.mxl | head -100); do mkdir -p in/mxl; cp "$f" "in/mxl/m$n.mxl"; n=$((n + 1)); done
n=0
for f in $(ls tmp/mid/*.mid | head -300); do d=in/midi/$((n % 4)); mkdir -p "$d"; cp "$f" "$d/p$n.mid"; n=$((n + 1)); done
good=$(find in -type f \( -name '*.musicxml' -o -name '*.mxl' -o -name '*.mid' \) | wc -l)
mkdir -p in/audio
"$umt" -q synth --engine fluidsynth "$(ls tmp/mid/*.mid | head -1)" -o tmp/one.wav
for i in $(seq 0 49); do cp tmp/one.wav "in/audio/a$i.wav"; done

# --- 100 corrupt inputs
mkdir -p in/bad
src=in/set0/0/score0.musicxml
mid=$(ls in/midi/0/*.mid | head -1)
for i in $(seq 0 19); do head -c $((200 + i * 37)) "$src" > "in/bad/truncated$i.musicxml"; done
for i in $(seq 0 19); do head -c $((100 + i * 11)) /dev/urandom > "in/bad/random$i.mid"; done
for i in $(seq 0 14); do : > "in/bad/empty$i.musicxml"; done
for i in $(seq 0 14); do head -c $((500 + i)) /dev/urandom > "in/bad/random$i.mxl"; done
for i in $(seq 0 14); do cp "$mid" "in/bad/midi_named$i.musicxml"; done
for i in $(seq 0 9); do cp "$src" "in/bad/xml_named$i.mid"; done
for i in $(seq 0 4); do head -c $((30 + i)) "$mid" > "in/bad/truncated$i.mid"; done
mkdir -p in/bad/folder_named.musicxml
bad=$(find in/bad -type f | wc -l)
total=$((good + bad))
echo "inputs: $total ($good good, $bad corrupt) + 50 WAV (not convert inputs) + a folder named folder_named.musicxml"

count() { grep -c "\"status\":\"$1\"" "$2" || true; }

# --- the whole batch, uninterrupted
start=$(date +%s.%N)
rc=0; "$umt" -q convert in -o out --to lmx --jobs 2 --report r1.jsonl 2> run1.err || rc=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
echo "run 1: exit $rc, $(count done r1.jsonl) done, $(count failed r1.jsonl) failed in ${secs} s"
[ "$rc" = 1 ] || problem "exit status $rc, expected 1"
[ "$(count done r1.jsonl)" = "$good" ] || problem "$(count done r1.jsonl) done, expected $good"
[ "$(count failed r1.jsonl)" = "$bad" ] || problem "$(count failed r1.jsonl) failed, expected $bad"
# every failure is a corrupt file, named with a reason; none has an output
python3 - r1.jsonl <<'PY' || fail=1
import json, os, sys
bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "summary" in r:
        continue
    if r["status"] == "failed":
        if "/bad/" not in r["input"]:
            print("FAIL: a good input failed:", r["error"]); bad = 1
        if not r["error"] or not r["error"].startswith(r["input"]):
            print("FAIL: error does not name the input:", r); bad = 1
        if os.path.exists(r["output"]):
            print("FAIL: output left for a failed input:", r["output"]); bad = 1
    elif "/bad/" in r["input"]:
        print("FAIL: a corrupt input was converted:", r["input"]); bad = 1
reasons = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("status") == "failed":
        why = r["error"][len(r["input"]) + 2:]
        reasons[why.split(" (")[0][:60]] = reasons.get(why.split(" (")[0][:60], 0) + 1
for why, n in sorted(reasons.items(), key=lambda x: -x[1]):
    print(f"  {n:3d} x {why}")
sys.exit(bad)
PY
empty=$(find out -type f -empty | wc -l)
temps=$(find out -name '.*.tmp*' | wc -l)
[ "$empty" = 0 ] || problem "$empty empty outputs"
[ "$temps" = 0 ] || problem "$temps temporary files left"
[ ! -e out/bad/folder_named.musicxml.lmx ] || problem "an output for a folder"

# --- killed midway with SIGKILL, then the same command again
"$umt" -q convert in -o out2 --to lmx --jobs 1 --report r2.jsonl 2> run2.err &
pid=$!
half=$((total / 2))
while kill -0 "$pid" 2>/dev/null && [ "$(grep -c '"status"' r2.jsonl 2>/dev/null || echo 0)" -lt "$half" ]; do sleep 0.05; done
kill -9 "$pid" 2>/dev/null || problem "the run finished before it could be killed"
wait "$pid" 2>/dev/null || true
finished=$(find out2 -type f ! -name '.*' | wc -l)
left=$(find out2 -name '.*.tmp*' | wc -l)
echo "killed after $(grep -c '"status"' r2.jsonl) reported inputs: $finished outputs, $left temporary file(s) left"
# every output present is complete: it converts back
rc=0; "$umt" -q convert out2 -o tmp/back --to musicxml --jobs 2 --report r-back.jsonl || rc=$?
[ "$rc" = 0 ] || problem "an output of the killed run does not read back (exit $rc)"
start=$(date +%s.%N)
rc=0; "$umt" -q convert in -o out2 --to lmx --jobs 1 --report r3.jsonl 2> run3.err || rc=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
echo "rerun: exit $rc, $(count skipped r3.jsonl) skipped, $(count done r3.jsonl) done, $(count failed r3.jsonl) failed in ${secs} s"
[ "$(count skipped r3.jsonl)" = "$finished" ] || problem "$(count skipped r3.jsonl) skipped, expected $finished"
[ "$(( $(count skipped r3.jsonl) + $(count done r3.jsonl) ))" = "$good" ] || problem "skipped + done is not $good"
[ "$(find out2 -name '.*.tmp*' | wc -l)" = 0 ] || problem "temporary files left after the rerun"
diff -r out out2 > /dev/null || problem "the killed-and-resumed outputs differ from the uninterrupted run"
[ "$fail" = 0 ] && echo "batch_faults: all checks passed" || echo "batch_faults: FAILED"
exit "$fail"
