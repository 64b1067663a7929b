#!/usr/bin/env python3
"""MIDI -> notation (the quantizer) on Lieder dev pieces, umt against MuseScore 3's MIDI import.

For the first --count scores of the split (sorted by name), two inputs per piece:
  (a) score MIDI of the piano part: `umt convert score.mxl -o score.mid --part K --no-repeats`
      (notes on the file's grid, with its tempo map, time and key signatures), then each system
      writes LMX; SER against the reference LMX (lmx/<split>/ID.lmx) with `umt eval ser`;
  (b) the data factory's humanized performance of the piano part (tempo curve, rubato, timing
      jitter, legato, pedal; numpy.random.default_rng(index), as scripts/checks/midi_fidelity.py),
      then each system writes MusicXML; note-onset F1 in score time against the score: onsets in
      quarters from each score's first note, a pair = same pitch within --tol quarters
      (one-to-one); "F1 re-aligned" lets the output slip: every 8 quarters of the score take the
      offset that matches most (a beat lost or gained early costs only its own window).
Systems: umt (--umt), an older umt (--umt-before), MuseScore 3 (`mscore3 -o out.musicxml in.mid`,
then `umt convert out.musicxml -o out.lmx`; --no-musescore to skip). Prints one table.

Usage: QT_QPA_PLATFORM=offscreen /usr/bin/python3 scripts/checks/quantize_eval.py --umt build/umt
       [--umt-before OLD] [--lieder ../shared/data/lieder] [--split dev] [--count 25] [--keep DIR]
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from datafactory import humanize, midi, musicxml, timeline  # noqa: E402


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, **kw)


def onsets_of(umt, path):
    """(onset in quarters, pitch) of every struck note of every part, as umt plays the score
    (measures as written, ties merged): the ticks of its MIDI over the ticks per quarter."""
    mid = path + ".onsets.mid"
    if run([umt, "-q", "convert", path, "-o", mid, "--no-repeats"]).returncode != 0:
        return []  # an unreadable output scores zero
    f = midi.read_ticks(mid)
    os.remove(mid)
    return [(Fraction(n.on, f.ticks_per_quarter), n.pitch) for n in f.notes]


def f1(ref, hyp, tol, scale=Fraction(1)):
    if not ref or not hyp:
        return 0, len(ref), len(hyp)
    r0 = min(q for q, _ in ref)
    h0 = min(q for q, _ in hyp)
    ref = sorted((float(q - r0), p) for q, p in ref)
    hyp = sorted((float((q - h0) * scale), p) for q, p in hyp)
    by_pitch = {}
    for i, (q, p) in enumerate(hyp):
        by_pitch.setdefault(p, []).append((q, i))
    used = set()
    match = 0
    for q, p in ref:
        best, best_d = None, tol + 1e-9
        for hq, i in by_pitch.get(p, []):
            d = abs(hq - q)
            if d <= best_d and i not in used:
                best, best_d = i, d
        if best is not None:
            used.add(best)
            match += 1
    return match, len(ref), len(hyp)


def f1_windowed(ref, hyp, tol, window=8):
    """Matches when the output may slip: each `window` quarters of the reference take the offset
    (hyp - ref, from same-pitch pairs within 4 quarters of the last one) that matches most."""
    if not ref or not hyp:
        return 0, len(ref), len(hyp)
    r0 = min(q for q, _ in ref)
    h0 = min(q for q, _ in hyp)
    ref = sorted((float(q - r0), p) for q, p in ref)
    hyp = sorted((float(q - h0), p) for q, p in hyp)
    by_pitch = {}
    for i, (q, p) in enumerate(hyp):
        by_pitch.setdefault(p, []).append((q, i))
    used = set()
    match = 0
    offset = 0.0
    start = 0
    while start < len(ref):
        end = start
        w0 = ref[start][0]
        while end < len(ref) and ref[end][0] < w0 + window:
            end += 1
        chunk = ref[start:end]
        candidates = {offset}
        for q, p in chunk[:8]:
            for hq, _ in by_pitch.get(p, []):
                if abs(hq - q - offset) <= 4:
                    candidates.add(round(hq - q, 6))
        best = (-1, offset, set())
        for off in sorted(candidates, key=lambda o: abs(o - offset)):
            taken = set()
            m = 0
            for q, p in chunk:
                for hq, i in by_pitch.get(p, []):
                    if i not in used and i not in taken and abs(hq - q - off) <= tol:
                        taken.add(i)
                        m += 1
                        break
            if m > best[0]:
                best = (m, off, taken)
        match += best[0]
        used |= best[2]
        offset = best[1]
        start = end
    return match, len(ref), len(hyp)


def prf(match, n_ref, n_hyp):
    p = match / n_hyp if n_hyp else 0.0
    r = match / n_ref if n_ref else 0.0
    return 100 * (2 * p * r / (p + r) if p + r else 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--umt", default="build/umt")
    ap.add_argument("--umt-before", default="")
    ap.add_argument("--musescore", default="mscore3")
    ap.add_argument("--no-musescore", action="store_true")
    ap.add_argument("--lieder", default="../shared/data/lieder")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--count", type=int, default=25)
    ap.add_argument("--skip", type=int, default=0, help="start after this many pieces (e.g. to tune on others)")
    ap.add_argument("--tol", type=float, default=1 / 24, help="onset tolerance in quarters")
    ap.add_argument("--keep", default="", help="keep the work folder here")
    args = ap.parse_args()
    umt = os.path.abspath(args.umt)
    files = sorted(pathlib.Path(args.lieder, args.split).glob("*.mxl"))[args.skip: args.skip + args.count]
    if not files:
        sys.exit(f"{args.lieder}/{args.split}: no .mxl files")
    work = args.keep or tempfile.mkdtemp(prefix="quantize_eval_")
    dirs = {k: os.path.join(work, k) for k in ("ref", "score_mid", "perf_mid", "piano")}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)
    ids = []
    for i, f in enumerate(files):
        tree = musicxml.load(str(f))
        k = musicxml.piano_part_index(tree.getroot()) + 1
        piano = musicxml.piano_only(tree)
        musicxml.write(piano, os.path.join(dirs["piano"], f.stem + ".musicxml"))
        ref_lmx = pathlib.Path(args.lieder, "lmx", args.split, f.stem + ".lmx")
        if not ref_lmx.exists():
            continue
        try:
            tl = timeline.render(umt, os.path.join(dirs["piano"], f.stem + ".musicxml"),
                                 os.path.join(dirs["piano"], f.stem + ".mid"), piano)
        except ValueError as e:
            print(f"{f.stem}: {e}", file=sys.stderr)
            continue
        (pathlib.Path(dirs["ref"]) / (f.stem + ".lmx")).write_text(ref_lmx.read_text())
        run([umt, "-q", "convert", str(f), "-o", os.path.join(dirs["score_mid"], f.stem + ".mid"), "--part", str(k), "--no-repeats"])
        notes, pedals, _ = humanize.perform(tl, np.random.default_rng(i))
        if notes:
            midi.write_midi(os.path.join(dirs["perf_mid"], f.stem + ".mid"), notes, pedals)
        ids.append(f.stem)

    systems = [("umt", "umt", umt)]
    if args.umt_before:
        systems.append(("umt before", "umt", os.path.abspath(args.umt_before)))
    if not args.no_musescore:
        systems.append(("MuseScore 3", "musescore", args.musescore))
    rows = []
    for name, kind, exe in systems:
        tag = name.replace(" ", "_")
        out_lmx = os.path.join(work, tag + "-score-lmx")
        out_xml = os.path.join(work, tag + "-perf-xml")
        os.makedirs(out_lmx, exist_ok=True)
        os.makedirs(out_xml, exist_ok=True)
        t0 = time.time()
        if kind == "umt":
            run([exe, "-q", "convert", dirs["score_mid"], "-o", out_lmx, "--to", "lmx"])
            t1 = time.time()
            run([exe, "-q", "convert", dirs["perf_mid"], "-o", out_xml, "--to", "musicxml"])
        else:
            tmp_xml = os.path.join(work, tag + "-score-xml")
            os.makedirs(tmp_xml, exist_ok=True)
            env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
            for s in ids:
                run([exe, "-o", os.path.join(tmp_xml, s + ".musicxml"), os.path.join(dirs["score_mid"], s + ".mid")], env=env, timeout=300)
            run([umt, "-q", "convert", tmp_xml, "-o", out_lmx, "--to", "lmx"])
            t1 = time.time()
            for s in ids:
                src = os.path.join(dirs["perf_mid"], s + ".mid")
                if os.path.exists(src):
                    run([exe, "-o", os.path.join(out_xml, s + ".musicxml"), src], env=env, timeout=300)
        t2 = time.time()
        ser = json.loads(subprocess.run([umt, "eval", "ser", dirs["ref"], out_lmx, "--json"], capture_output=True,
                                        text=True, check=False).stdout or "{}")
        m = nr = nh = 0
        ml = nrl = nhl = 0
        outputs = 0
        for i, s in enumerate(ids):
            hyp_path = os.path.join(out_xml, s + ".musicxml")
            if not os.path.exists(os.path.join(dirs["perf_mid"], s + ".mid")):
                continue
            ref = onsets_of(umt, os.path.join(dirs["piano"], s + ".musicxml"))
            hyp = onsets_of(umt, hyp_path) if os.path.exists(hyp_path) else []
            outputs += bool(hyp)
            a = f1(ref, hyp, args.tol)
            m, nr, nh = m + a[0], nr + a[1], nh + a[2]
            w = f1_windowed(ref, hyp, args.tol)
            ml, nrl, nhl = ml + w[0], nrl + w[1], nhl + w[2]
        rows.append((name, ser.get("ser", float("nan")), len(ser.get("missing", [])), prf(m, nr, nh), prf(ml, nrl, nhl),
                     outputs, t1 - t0, t2 - t1))

    print(f"# {len(ids)} {args.split} pieces (first by name); onset tolerance {args.tol:.4f} quarter; work folder {work}")
    print("| system | (a) score MIDI -> LMX: SER % | missing | (b) performance -> score: onset F1 % | F1 re-aligned every 8 quarters % | scores written | time (a) s | time (b) s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, ser, missing, f, fl, outputs, ta, tb in rows:
        print(f"| {name} | {ser:.1f} | {missing} | {f:.1f} | {fl:.1f} | {outputs}/{len(ids)} | {ta:.0f} | {tb:.0f} |")


if __name__ == "__main__":
    main()
