#!/usr/bin/python3
"""Builds the OMR excerpt set: every piece of a split cut into excerpts of 1..4 measures, each
engraved on its own by verovio and cut by `umt systems` (scripts/datafactory/excerpts.py).

  scripts/build_excerpts.py --corpus ../shared/data/lieder --split train --passes 2 \
      --out ../data/excerpts-v1

One pass = every piece once, cut at new points and engraved with new parameters; a later call with
more --passes adds passes, finished (piece, pass) chunks are kept (resumable), and a trainer may
read the chunks while the build goes on (OUT/chunks/SPLIT/*.jsonl, one record per excerpt:
id, piece, pass, first measure, measures, image, lmx, engraving parameters). Failures are counted
per reason in OUT/SPLIT-summary.json.
"""
import argparse
import json
import multiprocessing
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from datafactory import excerpts  # noqa: E402
from datafactory.build import stable_hash  # noqa: E402

REPO = os.path.dirname(HERE)


def chunk_job(job):
    """A group of pieces, one pass -> (chunk id, records or None when built before, failures);
    writes OUT/chunks/SPLIT/CHUNK.jsonl."""
    chunk = f"{job['group']}-p{job['pass']}"
    dst = os.path.join(job["out"], "chunks", job["split"], chunk + ".jsonl")
    if os.path.exists(dst):
        return chunk, None, {}
    items, meta, dirs, failed = [], {}, {}, {}
    for piece, path in job["pieces"]:
        rng = np.random.default_rng([job["seed"], stable_hash(piece), job["pass"]])
        with open(path) as f:
            tokens = f.read().split()
        try:
            parts = excerpts.slice_piece(tokens, rng, job["k_max"], job["weights"])
        except ValueError as e:
            failed[piece] = f"slice: {e}"
            continue
        for first, k, toks in parts:
            eid = f"{piece}-p{job['pass']}-m{first:03d}x{k}"
            items.append((eid, toks))
            meta[eid] = (piece, first, k, toks)
            dirs[eid] = os.path.join(job["out"], "images", job["split"], piece)
    rng = np.random.default_rng([job["seed"], stable_hash(chunk)])
    try:
        done, bad = excerpts.render_chunk(job["umt"], items, dirs, rng, job["staff_height"],
                                           staff_bands=job.get("staff_bands", 0))
    except Exception as e:  # noqa: BLE001 - a bad chunk must not stop the build; it is reported
        return chunk, [], dict(failed, **{chunk: f"{type(e).__name__}: {e}"})
    failed.update(bad)
    records = []
    for eid, fields in sorted(done.items()):
        piece, first, k, toks = meta[eid]
        records.append(dict(id=eid, piece=piece, split=job["split"], **{"pass": job["pass"]},
                            first_measure=first, measures=k,
                            image=os.path.relpath(os.path.join(dirs[eid], eid + ".png"), job["out"]),
                            lmx=" ".join(toks), lmx_tokens=len(toks), **fields))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst + ".tmp", "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    os.replace(dst + ".tmp", dst)
    return chunk, records, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, help="OpenScore Lieder layout: lmx/SPLIT/ID.lmx reference LMX")
    ap.add_argument("--out", required=True, help="excerpt set folder (outside git)")
    ap.add_argument("--split", choices=["train", "dev"], default="train")
    ap.add_argument("--passes", type=int, default=1, help="passes over the pieces (each new cuts and engravings)")
    ap.add_argument("--limit", type=int, default=0, help="at most N pieces (0 = all)")
    ap.add_argument("--k-max", type=int, default=4, help="longest excerpt in measures")
    ap.add_argument("--weights", type=float, nargs="*", help="relative frequency of 1..k-max measures")
    ap.add_argument("--staff-height", type=int, default=32)
    ap.add_argument("--staff-bands", type=int, default=0,
                    help="cut the excerpts in the band layout (umt systems --staff-bands), 0 = as on the page")
    ap.add_argument("--group", type=int, default=8, help="pieces per chunk (one engraving and cutting call each)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--umt", default=os.environ.get("UMT_EXE", os.path.join(REPO, "build", "umt")))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    if os.path.commonpath([out, REPO]) == REPO:
        sys.exit(f"build_excerpts: {out} is inside the repository; datasets stay out of git")
    src = os.path.join(args.corpus, "lmx", args.split)
    pieces = sorted(f[:-4] for f in os.listdir(src) if f.endswith(".lmx"))
    if args.limit:
        pieces = pieces[: args.limit]
    if args.weights and len(args.weights) != args.k_max:
        sys.exit(f"build_excerpts: --weights needs {args.k_max} values")
    groups = [pieces[i:i + args.group] for i in range(0, len(pieces), args.group)]
    jobs = [dict(group=f"g{g:04d}", pieces=[(p, os.path.join(src, p + ".lmx")) for p in group], split=args.split,
                 out=out, umt=args.umt, seed=args.seed, k_max=args.k_max, weights=args.weights,
                 staff_height=args.staff_height, staff_bands=args.staff_bands, **{"pass": k})
            for k in range(args.passes) for g, group in enumerate(groups)]
    t0, made, kept, reasons = time.time(), 0, 0, {}
    with multiprocessing.Pool(max(1, args.jobs)) as pool:
        for n, (chunk, records, failed) in enumerate(pool.imap_unordered(chunk_job, jobs), 1):
            if records is None:
                kept += 1
            else:
                made += len(records)
            for why in failed.values():
                key = why.split(":")[0]
                reasons[key] = reasons.get(key, 0) + 1
            if n % 5 == 0 or n == len(jobs):
                rate = made / max(1e-9, time.time() - t0)
                print(f"{n}/{len(jobs)} chunks ({kept} kept from before), {made} excerpts, {rate:.1f}/s, "
                      f"failures {reasons}", file=sys.stderr, flush=True)
    summary = {"split": args.split, "pieces": len(pieces), "passes": args.passes, "new_excerpts": made,
               "failures": reasons, "seconds": round(time.time() - t0, 1)}
    with open(os.path.join(out, f"{args.split}-summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary), file=sys.stderr)


if __name__ == "__main__":
    main()
