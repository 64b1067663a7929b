#!/usr/bin/env python3
"""MIDI -> MIDI fidelity of `umt convert` on humanized piano performances.

For each Lieder score of the split: the data factory's humanized performance of its piano
part (umt's score MIDI through the humanizer: tempo curve, timing, velocity, sustain pedal;
seed = the score's position), then
`umt convert perf.mid -o out.mid`. Prints, over all files: byte-identical outputs, notes whose
pitch, velocity, onset and offset are kept (onset and offset within --tol-ms), and sustain
pedal events kept. --umt-before runs another build beside it (e.g. one without this change).

Usage: scripts/checks/midi_fidelity.py [--umt build/umt] [--umt-before OTHER] [--lieder ../shared/data/lieder] [--split dev]
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from datafactory import humanize, midi, musicxml, timeline  # noqa: E402


def kept_notes(ref, out, tol_s):
    key = lambda n: (round(n.onset_s, 6), n.pitch)
    ref, out = sorted(ref, key=key), sorted(out, key=key)
    # One-to-one: each reference note takes the nearest unused output note of its pitch and velocity.
    by_pitch = {}
    for i, n in enumerate(out):
        by_pitch.setdefault((n.pitch, n.velocity), []).append(i)
    used = set()
    kept = 0
    for n in ref:
        best = None
        for i in by_pitch.get((n.pitch, n.velocity), []):
            if i in used:
                continue
            o = out[i]
            if abs(o.onset_s - n.onset_s) <= tol_s and abs(o.offset_s - n.offset_s) <= tol_s:
                best = i
                break
        if best is not None:
            used.add(best)
            kept += 1
    return kept


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--umt", default="build/umt")
    ap.add_argument("--umt-before", default="")
    ap.add_argument("--lieder", default="../shared/data/lieder")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--tol-ms", type=float, default=1.0)
    args = ap.parse_args()
    files = sorted(pathlib.Path(args.lieder, args.split).glob("*.mxl"))
    if not files:
        sys.exit(f"{args.lieder}/{args.split}: no .mxl files")
    with tempfile.TemporaryDirectory() as tmp:
        perf_dir, score_dir = os.path.join(tmp, "perf"), os.path.join(tmp, "score")
        os.makedirs(perf_dir)
        os.makedirs(score_dir)
        made = []
        for i, f in enumerate(files):
            tree = musicxml.piano_only(musicxml.load(str(f)))
            piano = os.path.join(score_dir, f.stem + ".musicxml")
            musicxml.write(tree, piano)
            try:
                tl = timeline.render(args.umt, piano, os.path.join(score_dir, f.stem + ".mid"), tree)
            except ValueError as e:
                print(f"{f.stem}: {e}", file=sys.stderr)
                continue
            notes, pedals, _ = humanize.perform(tl, np.random.default_rng(i))
            if not notes:
                continue
            path = os.path.join(perf_dir, f.stem + ".mid")
            midi.write_midi(path, notes, pedals)
            made.append(f.stem)
        builds = [("umt", args.umt)] + ([("before", args.umt_before)] if args.umt_before else [])
        print(f"# MIDI -> MIDI over {len(made)} humanized performances ({args.split}), tolerance {args.tol_ms:g} ms")
        print("| build | byte-identical | notes kept | notes | pedal events kept | pedal events |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, exe in builds:
            out_dir = os.path.join(tmp, "out-" + name)
            subprocess.run([exe, "-q", "convert", perf_dir, "-o", out_dir, "--to", "mid"], check=False)
            same = kept = total = ped_kept = ped_total = 0
            for stem in made:
                src, dst = os.path.join(perf_dir, stem + ".mid"), os.path.join(out_dir, stem + ".mid")
                ref_notes, ref_ped = midi.read_midi(src)
                total += len(ref_notes)
                ped_total += len(ref_ped)
                if not os.path.exists(dst):
                    continue
                same += pathlib.Path(src).read_bytes() == pathlib.Path(dst).read_bytes()
                out_notes, out_ped = midi.read_midi(dst)
                kept += kept_notes(ref_notes, out_notes, args.tol_ms / 1000)
                ped_kept += sum(1 for p in ref_ped
                                if any(abs(q[0] - p[0]) <= args.tol_ms / 1000 and q[1] == p[1] for q in out_ped))
            print(f"| {name} | {same}/{len(made)} | {kept} | {total} | {ped_kept} | {ped_total} |")


if __name__ == "__main__":
    main()
