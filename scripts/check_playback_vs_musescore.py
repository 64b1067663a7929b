#!/usr/bin/python3
"""Compares umt's score playback with MuseScore 3's MIDI export, note by note in quarter notes.

For every .mxl in the data folder: MuseScore's export (`mscore3 -o ms.mid x.mxl`, run as one
`mscore3 -j JOB.json` batch) and umt's rendering (the bench
tool score_to_midi_tool, or `umt convert --expand-repeats` with --via umt), both with repeats
expanded (MuseScore plays them). Both MIDI files are read back by umt's reader and onsets are
converted to quarters with each file's own tempo map. A piece agrees exactly when the multisets
of (pitch, onset rounded to 1/480 quarter) are equal. Prints a table per mode and the most
common kinds of difference.

usage: scripts/check_playback_vs_musescore.py [--data ../shared/data/lieder/dev] [--build build]
"""
import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import tempfile

TPQ = 480


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def notes_of(tool, mid):
    r = run([tool, "--notes", mid])
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    out = []
    for line in r.stdout.splitlines():
        p, on, off = line.split()
        out.append((int(p), float(on), float(off)))
    return out


def key_multiset(notes):
    return collections.Counter((p, round(on * TPQ)) for p, on, _ in notes)


def classify(ms, ours):
    """Kinds of difference between two note lists: extra/missing pitches at an onset, or shifts."""
    a, b = key_multiset(ms), key_multiset(ours)
    missing = a - b  # in MuseScore only
    extra = b - a    # in umt only
    kinds = collections.Counter()
    extra_by_pitch = collections.defaultdict(list)
    for (p, t), c in extra.items():
        extra_by_pitch[p].extend([t] * c)
    for (p, t), c in missing.items():
        for _ in range(c):
            cands = extra_by_pitch.get(p, [])
            best = min(cands, key=lambda u: abs(u - t)) if cands else None
            if best is not None and abs(best - t) <= TPQ // 4:
                cands.remove(best)
                kinds["shifted <= 1/4 quarter"] += 1
            elif best is not None and abs(best - t) <= 8 * TPQ:
                cands.remove(best)
                kinds["shifted > 1/4 quarter"] += 1
            else:
                kinds["only in MuseScore"] += 1
    kinds["only in umt"] += sum(len(v) for v in extra_by_pitch.values())
    return kinds, sum(missing.values()), sum(extra.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap.add_argument("--data", default=os.path.join(root, "..", "shared", "data", "lieder", "dev"))
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--via", choices=["tool", "umt"], default="tool")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "umt_musescore_midi"),
                    help="MuseScore exports are kept here between runs")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated piece names (e.g. lc6581327,lc6011095)")
    ap.add_argument("--show", type=int, default=0, help="print the first N differing notes of each piece")
    args = ap.parse_args()

    tool = os.path.join(args.build, "score_to_midi_tool")
    umt = os.path.join(args.build, "umt")
    files = sorted(glob.glob(os.path.join(args.data, "*.mxl")))
    if args.only:
        wanted = set(args.only.split(","))
        files = [f for f in files if os.path.splitext(os.path.basename(f))[0] in wanted]
    if args.limit:
        files = files[: args.limit]
    if not files:
        sys.exit(f"no .mxl files in {args.data}")
    os.makedirs(args.cache, exist_ok=True)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")

    modes = {"grace before the beat (default)": [], "grace on the beat (MuseScore style)": ["--grace-on-beat"]}
    if args.via == "umt":
        modes = {"umt convert --expand-repeats": None}
    results = {m: [] for m in modes}
    kinds_total = {m: collections.Counter() for m in modes}
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        # One MuseScore process for all missing exports (a job file): its start-up dominates.
        def ms_path(f):
            return os.path.join(args.cache, os.path.splitext(os.path.basename(f))[0] + ".mid")
        todo = [{"in": os.path.abspath(f), "out": ms_path(f)} for f in files if not os.path.exists(ms_path(f))]
        if todo:
            job = os.path.join(tmp, "job.json")
            with open(job, "w") as fh:
                json.dump(todo, fh)
            run(["mscore3", "-j", job], env=env, timeout=1800)
        for f in files:
            name = os.path.splitext(os.path.basename(f))[0]
            ms_mid = ms_path(f)
            if not os.path.exists(ms_mid):
                failures.append((name, "mscore3 failed"))
                continue
            ms_notes = notes_of(tool, ms_mid)
            for mode, flags in modes.items():
                out = os.path.join(tmp, name + ".mid")
                if flags is None:
                    r = run([umt, "convert", "--expand-repeats", f, "-o", out])
                else:
                    r = run([tool, "--expand-repeats"] + flags + [f, out])
                if r.returncode != 0:
                    failures.append((name, mode + ": " + r.stderr.strip()[-200:]))
                    continue
                ours = notes_of(tool, out)
                kinds, missing, extra = classify(ms_notes, ours)
                kinds_total[mode].update(kinds)
                results[mode].append((name, len(ms_notes), len(ours), missing, extra))
                if args.show and (missing or extra):
                    a, b = key_multiset(ms_notes), key_multiset(ours)
                    print(f"{name} [{mode}] MuseScore only: {sorted((a - b).elements())[: args.show]}"
                          f"  umt only: {sorted((b - a).elements())[: args.show]}")

    print(f"\nScore playback vs MuseScore 3 on {len(files)} pieces ({args.data}); onsets in quarters, 1/480 grid\n")
    print("| mode | pieces | exact agreement | MuseScore notes matched | umt notes matched |")
    print("|---|---|---|---|---|")
    for mode, rows in results.items():
        if not rows:
            continue
        exact = sum(1 for r in rows if r[3] == 0 and r[4] == 0)
        ms_total = sum(r[1] for r in rows)
        ours_total = sum(r[2] for r in rows)
        ms_matched = ms_total - sum(r[3] for r in rows)
        ours_matched = ours_total - sum(r[4] for r in rows)
        print(f"| {mode} | {len(rows)} | {exact}/{len(rows)} ({100.0 * exact / len(rows):.1f}%) | "
              f"{ms_matched}/{ms_total} ({100.0 * ms_matched / max(1, ms_total):.2f}%) | "
              f"{ours_matched}/{ours_total} ({100.0 * ours_matched / max(1, ours_total):.2f}%) |")
    for mode, kinds in kinds_total.items():
        if kinds:
            print(f"\ndifferences [{mode}]: " + ", ".join(f"{k}: {v}" for k, v in kinds.most_common()))
    for mode, rows in results.items():
        worst = sorted(rows, key=lambda r: -(r[3] + r[4]))[:8]
        worst = [r for r in worst if r[3] + r[4] > 0]
        if worst:
            print(f"\nmost different [{mode}]: " + ", ".join(f"{r[0]} (-{r[3]} +{r[4]})" for r in worst))
    if failures:
        print("\nfailures:")
        for name, why in failures:
            print(f"  {name}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
