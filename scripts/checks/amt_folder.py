#!/usr/bin/python3
"""`umt amt DIR -o OUT/` over a folder of recordings in several formats, rates and channel counts
(issue 19): one MIDI per file, its length against the recording's, velocities, and note F1 against
the performance the audio was rendered from (sustain pedal applied to the reference's note ends,
as the frame head hears them).

  scripts/checks/amt_folder.py --data DATA [--pieces 5] [--seconds 30] [--models models/default]

DATA is a data factory build (`scripts/build_dataset.py --audio-only`); the first --pieces dev
performances are cut to --seconds and rendered by FluidSynth with the evaluation SoundFont
(never trained on) as WAV 44.1 kHz stereo, FLAC 22.05 kHz, MP3 48 kHz, OGG 32 kHz and WAV 16 kHz
mono, in turn. Prints a table; exits non-zero when a file gets no MIDI.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from datafactory import midi  # noqa: E402
from datafactory.audio import eval_soundfont  # noqa: E402
from umt_model.media import read_wav  # noqa: E402

# (name, extension, rate, stereo)
VARIANTS = [("wav44k-stereo", "wav", 44100, True), ("flac22k", "flac", 22050, False), ("mp3-48k", "mp3", 48000, False),
            ("ogg32k", "ogg", 32000, False), ("wav16k", "wav", 16000, False)]


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


def to_stereo(path):
    """A mono WAV rewritten as two channels (the right one 3 dB quieter and 1 ms late)."""
    x, rate = read_wav(path)
    right = np.concatenate([np.zeros(rate // 1000, np.float32), x[: len(x) - rate // 1000]]) * 0.71
    pcm = (np.clip(np.stack([x, right], 1), -1, 1) * 32767).round().astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--pieces", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--models", default="models/default")
    ap.add_argument("--umt", default="build/umt")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    sf = eval_soundfont()
    if not sf:
        raise SystemExit("no MuseScore_General SoundFont (Debian: musescore-general-soundfont)")
    recs = [json.loads(line) for line in open(os.path.join(args.data, "dev.jsonl"))]
    recs = sorted((r for r in recs if r["kind"] == "score"), key=lambda r: r["id"])[: args.pieces]
    work = tempfile.mkdtemp(prefix="umt-amt-folder-")
    audio_dir, ref_dir, out_dir = (os.path.join(work, d) for d in ("audio", "ref", "out"))
    for d in (audio_dir, ref_dir):
        os.makedirs(d)
    rows = []
    for k, r in enumerate(recs):
        name, ext, rate, stereo = VARIANTS[k % len(VARIANTS)]
        stem = f"{r['id']}-{name}"
        notes, pedals = midi.read_midi(os.path.join(args.data, r["performance_midi"]))
        cut = [midi.Note(n.onset_s, min(n.offset_s, args.seconds), n.pitch, n.velocity) for n in notes
               if n.onset_s < args.seconds]
        ref = os.path.join(ref_dir, stem + ".mid")
        midi.write_midi(ref, cut, [(t, v) for t, v in pedals if t < args.seconds])
        dst = os.path.join(audio_dir, f"{stem}.{ext}")
        run([args.umt, "-q", "synth", "--engine", "fluidsynth", "--soundfont", sf, "--rate", str(rate), ref, "-o", dst])
        if stereo:
            to_stereo(dst)
        rows.append((stem, ext, rate, 2 if stereo else 1, max(n.offset_s for n in cut), len(cut)))
    run([args.umt, "-q", "--models", args.models, "amt", audio_dir, "-o", out_dir + "/", "--threads", str(args.threads)])
    report = json.loads(run([args.umt, "eval", "notes", "--sustain", "--json", ref_dir, out_dir]))
    per_file = {os.path.splitext(os.path.basename(f["name"]))[0]: f for f in report.get("per_file", [])}
    print("| file | format | rate | channels | reference ends s | MIDI ends s | notes (reference) | velocities | onset F1 | onset+offset F1 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    missing = 0
    for stem, ext, rate, ch, ref_end, ref_notes in rows:
        mid = os.path.join(out_dir, stem + ".mid")
        if not os.path.exists(mid):
            print(f"| {stem} | {ext} | {rate} | {ch} | — | no MIDI | | | | |")
            missing += 1
            continue
        notes, _ = midi.read_midi(mid)
        end = max((n.offset_s for n in notes), default=0.0)
        f = per_file.get(stem, {})
        on = f.get("onset", {}).get("f1")
        onoff = f.get("onset_offset", {}).get("f1")
        print(f"| {stem} | {ext} | {rate} | {ch} | {ref_end:.1f} | {end:.1f} | {len(notes)} ({ref_notes}) | "
              f"{len({n.velocity for n in notes})} distinct | {on if on is None else round(100 * on, 1)} | "
              f"{onoff if onoff is None else round(100 * onoff, 1)} |")
    print(f"\nall files: {json.dumps({k: v for k, v in report.items() if k != 'per_file'})}")
    print(f"outputs kept in {work}", file=sys.stderr)
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
