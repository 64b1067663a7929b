#!/usr/bin/python3
"""Builds the aligned score-image / LMX / MIDI / audio training corpus (issue 6).

  scripts/build_dataset.py --corpus ../shared/data/lieder --out ../data/umt-v1 \
      [--limit N] [--seed S] [--jobs J] [--split train|dev|all] [--generated N]

Writes OUT/scores/<split>/<id>/ (pages, system crops, LMX, MIDI, audio), one manifest
per split (OUT/train.jsonl, dev.jsonl, dev_eval.jsonl; paths relative to OUT), and
OUT/summary.json. Deterministic for a seed, parallel over processes, resumable: a
score whose done.json exists is not rebuilt. The dev split never enters train.jsonl;
dev_eval.jsonl holds the dev scores rendered with the evaluation SoundFont + reverb.
"""
import argparse
import csv
import glob
import json
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from datafactory import audio as audio_mod  # noqa: E402
from datafactory import build, engrave  # noqa: E402

VERSION = "1"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_umt(explicit):
    for p in [explicit, os.environ.get("UMT_EXE"), os.path.join(REPO, "build", "umt")]:
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return os.path.abspath(p)
    sys.exit("build_dataset: no umt executable (give --umt or build/umt)")


def corpus_jobs(corpus, split_filter):
    """(id, split, path) for every score of the corpus, from index.tsv when present."""
    index = os.path.join(corpus, "index.tsv")
    rows = []
    if os.path.exists(index):
        with open(index, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                rows.append((row["id"], row["split"], row.get("path", "")))
    else:  # a plain folder of scores: all train
        for name in sorted(os.listdir(corpus)):
            if name.endswith((".mxl", ".musicxml", ".xml")):
                rows.append((os.path.splitext(name)[0], "train", name))
    out = []
    for sid, split, rel in rows:
        if split_filter != "all" and split != split_filter:
            continue
        path = None
        for cand in (os.path.join(corpus, split, f"lc{sid}.mxl"), os.path.join(corpus, rel)):
            if os.path.isfile(cand):
                path = cand
                break
        if path:
            out.append((f"lc{sid}" if os.path.basename(path).startswith("lc") else sid, split, path, rel))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", help="MusicXML corpus folder (OpenScore Lieder layout: index.tsv, train/, dev/, lmx/)")
    ap.add_argument("--out", default="../data/umt-dataset-v" + VERSION, help="dataset folder (outside git)")
    ap.add_argument("--limit", type=int, default=0, help="at most N corpus scores per split (0 = all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--split", choices=["train", "dev", "all"], default="all")
    ap.add_argument("--generated", type=int, default=0, help="add N procedurally generated training scores")
    ap.add_argument("--generated-measures", type=int, nargs=2, default=[12, 32], metavar=("MIN", "MAX"))
    ap.add_argument("--engravers", default="musescore,verovio")
    ap.add_argument("--staff-height", type=int, default=32, help="staff height of the stored system crops, px")
    ap.add_argument("--staff-bands", type=int, default=0,
                    help="cut the system crops in the band layout (umt systems --staff-bands), 0 = as on the page")
    ap.add_argument("--audio-rate", type=int, default=22050)
    ap.add_argument("--no-scan", action="store_true", help="skip the scan-like degraded copies")
    ap.add_argument("--audio-only", action="store_true",
                    help="performances and audio only (AMT data): no engraving, system images or LMX")
    ap.add_argument("--images-only", action="store_true",
                    help="engravings, system images and their LMX only (OMR data): no performance or audio")
    ap.add_argument("--train-programs", default="0:0.5,1:0.25,2:0.15,3:0.1",
                    help="GM piano programs the training audio is rendered with, PROGRAM:WEIGHT,... (one per piece, "
                         "drawn by the piece's own timbre seed; the dev audio and every MIDI stay program 0)")
    ap.add_argument("--umt", help="umt executable (default: $UMT_EXE, then build/umt)")
    args = ap.parse_args()

    umt = find_umt(args.umt)
    out = os.path.abspath(args.out)
    try:
        if os.path.commonpath([out, REPO]) == REPO:
            sys.exit(f"build_dataset: {out} is inside the repository; datasets stay out of git")
    except ValueError:
        pass
    engravers = [e for e in args.engravers.split(",")
                 if (e == "musescore" and engrave.musescore_available()) or (e == "verovio" and engrave.verovio_available())]
    if args.audio_only and args.images_only:
        sys.exit("build_dataset: --audio-only and --images-only exclude each other")
    if not engravers and not args.audio_only:
        sys.exit("build_dataset: neither mscore3 nor verovio (tools/node_modules, node, rsvg-convert) is available")
    train_sfs = [os.path.join(audio_mod.SOUNDFONT_DIR, s) for s in audio_mod.TRAIN_SOUNDFONTS
                 if os.path.exists(os.path.join(audio_mod.SOUNDFONT_DIR, s))]
    if not train_sfs:
        sys.exit("build_dataset: no training SoundFont in /usr/share/sounds/sf2 (fluid-soundfont-gm, timgm6mb-soundfont)")
    eval_sf = audio_mod.eval_soundfont()
    try:
        programs = [(int(p.split(":")[0]), float(p.split(":")[1])) for p in args.train_programs.split(",")]
        if not programs or any(not 0 <= p <= 127 or w < 0 for p, w in programs) or sum(w for _, w in programs) <= 0:
            raise ValueError
    except (ValueError, IndexError):
        sys.exit(f"build_dataset: --train-programs {args.train_programs!r}: give PROGRAM:WEIGHT pairs, programs 0-127")

    jobs = []
    common = dict(out=out, umt=umt, seed=args.seed, engravers=engravers, staff_height=args.staff_height,
                  staff_bands=args.staff_bands,
                  audio_rate=args.audio_rate, scan=not args.no_scan, soundfonts=train_sfs,
                  audio_only=args.audio_only, images_only=args.images_only, train_programs=programs)
    if args.corpus:
        per_split = {}
        for sid, split, path, rel in corpus_jobs(args.corpus, args.split):
            per_split.setdefault(split, [])
            if args.limit and len(per_split[split]) >= args.limit:
                continue
            per_split[split].append(sid)
            ref = os.path.join(args.corpus, "lmx", split, sid + ".lmx")
            jobs.append(dict(common, id=sid, split=split, kind="corpus", source=path,
                             source_name=f"openscore-lieder/{rel}" if rel else os.path.basename(path),
                             licence="CC0-1.0 (OpenScore Lieder)", reference_lmx=ref if os.path.exists(ref) else None,
                             eval_soundfont=eval_sf if split == "dev" else None,
                             work=os.path.join(out, "scores", split, sid)))
        if "dev" in per_split and not eval_sf:
            print("build_dataset: warning: no MuseScore_General SoundFont (musescore-general-soundfont); "
                  "dev_eval.jsonl will be empty", file=sys.stderr)
    if args.split in ("train", "all"):
        import numpy as np
        rng = np.random.default_rng([args.seed, 7])
        lo, hi = args.generated_measures
        for i in range(args.generated):
            gid = f"gen{args.seed:04d}-{i:06d}"
            jobs.append(dict(common, id=gid, split="train", kind="generated", source=None,
                             gen_seed=args.seed * 1_000_003 + i, gen_measures=int(rng.integers(lo, hi + 1)),
                             source_name=f"umt generate --seed {args.seed * 1_000_003 + i}",
                             licence="CC0-1.0 (generated)", reference_lmx=None, eval_soundfont=None,
                             work=os.path.join(out, "scores", "train", gid)))
    if not jobs:
        sys.exit("build_dataset: nothing to build (give --corpus and/or --generated)")
    os.makedirs(out, exist_ok=True)

    t0 = time.time()
    results = []
    failed = []
    with multiprocessing.Pool(max(1, args.jobs)) as pool:
        for k, res in enumerate(pool.imap_unordered(build.process, jobs), 1):
            results.append(res)
            state = "resumed" if res.get("resumed") else ("ok" if res["ok"] else "FAILED")
            print(f"[{k}/{len(jobs)}] {res['id']}: {state}" + ("" if res["ok"] else f": {res['error']}"),
                  file=sys.stderr, flush=True)
            if not res["ok"]:
                failed.append(res)
    elapsed = time.time() - t0

    # Manifests of every finished score in the folder, not only this call's: building the splits
    # one at a time, or adding pieces later, keeps what was built before. Sorted by id so that the
    # files do not depend on process scheduling.
    finished = {r["id"]: r for r in results}
    for path in glob.glob(os.path.join(out, "scores", "*", "*", "done.json")):
        with open(path) as f:
            r = json.load(f)
        finished.setdefault(r["id"], r)
    results = sorted(finished.values(), key=lambda r: r["id"])
    manifests = {"train": [], "dev": [], "dev_eval": []}
    for r in results:
        if r["ok"]:
            for split, recs in r["records"].items():
                manifests.setdefault(split, []).extend(recs)
    for split, recs in manifests.items():
        tmp = os.path.join(out, split + ".jsonl.tmp")
        with open(tmp, "w") as f:
            for rec in recs:
                f.write(json.dumps(rec, sort_keys=True) + "\n")
        os.replace(tmp, os.path.join(out, split + ".jsonl"))

    summary = {"version": VERSION, "seed": args.seed, "umt": umt, "engravers": engravers,
               "build_seconds": round(elapsed, 1), "jobs": args.jobs, "scores_failed": len(failed),
               "failures": [{"id": r["id"], "error": r["error"]} for r in failed], "splits": {}}
    for split, recs in manifests.items():
        scores = [x for x in recs if x["kind"] == "score"]
        systems = [x for x in recs if x["kind"] == "system"]
        ok = [r for r in results if r["ok"] and any(x["score_id"] == r["id"] for x in scores)]
        summary["splits"][split] = {
            "scores": len(scores),
            "audio_hours": round(sum(x["duration_s"] for x in scores) / 3600, 4),
            "systems": len(systems),
            "scan_copies": sum(1 for x in systems if x.get("image_scan")),
            "scan_copies_cut_from_degraded_page": sum(1 for x in systems if x.get("image_scan_kind") == "page"),
            "image_audio_pairs": sum(1 for x in recs if x["kind"] == "image_audio"),
            "midi_audio_segments": sum(1 for x in recs if x["kind"] == "midi_audio"),
            "engravers": {e: sum(1 for x in scores if x["engraver"] == e) for e in engravers},
            "tokens": {
                "lmx": sum(x["lmx_tokens"] for x in systems),
                "image": sum(r["stats"]["image_tokens"] for r in ok),
                "midi": sum(r["stats"]["midi_tokens"] for r in ok),
                "audio": int(sum(x["duration_s"] for x in scores) * build.AUDIO_FRAMES_PER_S * 4),
            },
            "systems_matched_by_umt_systems": sum(1 for r in ok if r["stats"]["checks"].get("systems_match_layout")),
        }
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)

    print(f"\ndataset {out}  (built in {elapsed:.0f} s, {len(failed)} score(s) failed)")
    print(f"{'split':9} {'scores':>6} {'hours':>7} {'systems':>7} {'img-aud':>7} {'midi-aud':>8} "
          f"{'LMX tok':>9} {'image tok':>10} {'MIDI tok':>9} {'audio tok':>10}")
    for split, s in summary["splits"].items():
        t = s["tokens"]
        print(f"{split:9} {s['scores']:6d} {s['audio_hours']:7.3f} {s['systems']:7d} {s['image_audio_pairs']:7d} "
              f"{s['midi_audio_segments']:8d} {t['lmx']:9d} {t['image']:10d} {t['midi']:9d} {t['audio']:10d}")
    for r in failed[:20]:
        print(f"failed: {r['id']}: {r['error']}", file=sys.stderr)
    return 1 if failed and len(failed) == len(jobs) else 0


if __name__ == "__main__":
    sys.exit(main())
