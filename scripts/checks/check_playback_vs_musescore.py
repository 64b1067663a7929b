#!/usr/bin/python3
"""Compares umt's score playback with MuseScore 3's MIDI export, note by note in quarter notes.

For every .mxl in the data folder: MuseScore's export (`mscore3 -o ms.mid x.mxl`, run as one
`mscore3 -j JOB.json` batch) and umt's rendering (the bench
tool score_to_midi_tool, or `umt convert --expand-repeats` with --via umt), both with repeats
expanded (MuseScore plays them). Both MIDI files are read back by umt's reader and onsets are
converted to quarters with each file's own tempo map. Two modes: umt's default, and MuseScore's
choices switched on (graces on the beat, long appoggiaturas, rolled arpeggios, cue notes sound).
Per mode: pieces whose multisets of (pitch, onset on the 1/480 grid) are equal (exact); pieces
whose notes all pair with a same-pitch note at most --tol ticks away (MuseScore's per-mille event
times drift a few ticks in tremolos, rolls and graces); the same with grace notes and the notes
they ornament left out of both sides (umt renders the score with and without its graces to find
them); notes matched; and the kinds of difference.

usage: scripts/checks/check_playback_vs_musescore.py [--data ../shared/data/lieder/dev] [--build build]
       [--only lc6581327,lc6011095] [--show N] [--tol 8]
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


def ticks_by_pitch(notes):
    by = collections.defaultdict(list)
    for p, on, _ in notes:
        by[p].append(round(on * TPQ))
    for v in by.values():
        v.sort()
    return by


def unmatched(a, b, tol):
    """Notes of a and of b left after pairing same-pitch onsets at most tol ticks apart (in order)."""
    ta, tb = ticks_by_pitch(a), ticks_by_pitch(b)
    only_a, only_b = [], []
    for p in set(ta) | set(tb):
        x, y = ta.get(p, []), tb.get(p, [])
        i = j = 0
        while i < len(x) and j < len(y):
            if abs(x[i] - y[j]) <= tol:
                i += 1
                j += 1
            elif x[i] < y[j]:
                only_a.append((p, x[i]))
                i += 1
            else:
                only_b.append((p, y[j]))
                j += 1
        only_a += [(p, t) for t in x[i:]]
        only_b += [(p, t) for t in y[j:]]
    return sorted(only_a), sorted(only_b)


def drop_near(notes, keys, tol):
    """notes without, for each key (pitch, tick), the nearest note of that pitch at most tol ticks away."""
    by_pitch = collections.defaultdict(list)
    for i, n in enumerate(notes):
        by_pitch[n[0]].append((round(n[1] * TPQ), i))
    dropped = set()
    for p, t in keys:
        cands = [(abs(u - t), i) for u, i in by_pitch.get(p, []) if i not in dropped and abs(u - t) <= tol]
        if cands:
            dropped.add(min(cands)[1])
    return [n for i, n in enumerate(notes) if i not in dropped]


def classify(only_ms, only_ours):
    """Kinds of difference between the unmatched notes of both sides: shifts or extra notes."""
    kinds = collections.Counter()
    extra_by_pitch = collections.defaultdict(list)
    for p, t in only_ours:
        extra_by_pitch[p].append(t)
    for p, t in only_ms:
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
    return kinds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap.add_argument("--data", default=os.path.join(root, "..", "shared", "data", "lieder", "dev"))
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--via", choices=["tool", "umt"], default="tool")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "umt_musescore_midi"),
                    help="MuseScore exports are kept here between runs")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--only", default="", help="comma-separated piece names (e.g. lc6581327,lc6011095)")
    ap.add_argument("--tol", type=int, default=8,
                    help="ticks of 1/480 quarter by which onsets may differ in the 'within' columns "
                         "(default 8 = 1/60 quarter): MuseScore places tremolo, arpeggio and grace events "
                         "in thousandths of the written note, which drifts by a few ticks")
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

    ms_style = ["--grace-on-beat", "--long-appoggiaturas", "--roll-arpeggios", "--play-cues"]
    modes = {"umt default": [],
             "MuseScore style (graces on the beat, long appoggiaturas, rolled arpeggios, cues sound)": ms_style}
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

        def render(f, flags):
            out = os.path.join(tmp, "out.mid")
            if flags is None:
                r = run([umt, "convert", "--expand-repeats", f, "-o", out])
            else:
                r = run([tool, "--expand-repeats"] + flags + [f, out])
            if r.returncode != 0:
                raise RuntimeError(r.stderr.strip()[-200:])
            return notes_of(tool, out)

        for f in files:
            name = os.path.splitext(os.path.basename(f))[0]
            ms_mid = ms_path(f)
            if not os.path.exists(ms_mid):
                failures.append((name, "mscore3 failed"))
                continue
            ms_notes = notes_of(tool, ms_mid)
            try:
                # Grace notes and the notes they ornament, as MuseScore places them (on the beat,
                # the principal delayed) and where they are without graces.
                full_ms_style = render(f, ms_style)
                bare_ms_style = render(f, ms_style + ["--strip-graces"])
            except RuntimeError as e:
                failures.append((name, str(e)))
                continue
            graced, principals = unmatched(full_ms_style, bare_ms_style, 0)
            ms_no_grace = drop_near(ms_notes, graced, TPQ // 2)
            for mode, flags in modes.items():
                try:
                    ours = render(f, flags)
                    ours_bare = ours if flags is None else render(f, flags + ["--strip-graces"])
                except RuntimeError as e:
                    failures.append((name, mode + ": " + str(e)))
                    continue
                exact_ms, exact_ours = unmatched(ms_notes, ours, 0)
                only_ms, only_ours = unmatched(ms_notes, ours, args.tol)
                ng_ms, ng_ours = unmatched(ms_no_grace, drop_near(ours_bare, principals, 0), args.tol)
                kinds_total[mode].update(classify(only_ms, only_ours))
                results[mode].append({"name": name, "ms": len(ms_notes), "ours": len(ours),
                                      "exact": not exact_ms and not exact_ours,
                                      "tol": not only_ms and not only_ours,
                                      "no_grace": not ng_ms and not ng_ours,
                                      "missing": len(only_ms), "extra": len(only_ours)})
                if args.show and (only_ms or only_ours):
                    print(f"{name} [{mode}] MuseScore only: {only_ms[: args.show]}"
                          f"  umt only: {only_ours[: args.show]}")

    print(f"\nScore playback vs MuseScore 3 on {len(files)} pieces ({args.data}); onsets in quarters "
          f"(1/480 grid; 'within' pairs same-pitch onsets at most {args.tol}/480 quarter apart)\n")
    print("| mode | pieces | exact agreement | agreement within tolerance | same, grace notes and their "
          "principals left out | MuseScore notes matched | umt notes matched |")
    print("|---|---|---|---|---|---|---|")
    for mode, rows in results.items():
        if not rows:
            continue
        n = len(rows)

        def share(key):
            k = sum(1 for r in rows if r[key])
            return f"{k}/{n} ({100.0 * k / n:.1f}%)"
        ms_total = sum(r["ms"] for r in rows)
        ours_total = sum(r["ours"] for r in rows)
        ms_matched = ms_total - sum(r["missing"] for r in rows)
        ours_matched = ours_total - sum(r["extra"] for r in rows)
        print(f"| {mode} | {n} | {share('exact')} | {share('tol')} | {share('no_grace')} | "
              f"{ms_matched}/{ms_total} ({100.0 * ms_matched / max(1, ms_total):.2f}%) | "
              f"{ours_matched}/{ours_total} ({100.0 * ours_matched / max(1, ours_total):.2f}%) |")
    for mode, kinds in kinds_total.items():
        if kinds:
            print(f"\ndifferences [{mode}] (notes, within tolerance): " +
                  ", ".join(f"{k}: {v}" for k, v in kinds.most_common()))
    for mode, rows in results.items():
        worst = sorted(rows, key=lambda r: -(r["missing"] + r["extra"]))[:12]
        worst = [r for r in worst if r["missing"] + r["extra"] > 0]
        if worst:
            print(f"\nmost different [{mode}]: " +
                  ", ".join(f"{r['name']} (-{r['missing']} +{r['extra']})" for r in worst))
    if failures:
        print("\nfailures:")
        for name, why in failures:
            print(f"  {name}: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
