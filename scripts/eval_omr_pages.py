#!/usr/bin/python3
"""Whole pages as a user feeds them (issue 18): dev pieces engraved by MuseScore 3 to PDF, read by
`umt omr piece.pdf -o piece.musicxml`, converted to LMX by `umt convert`; piece-level SER of the
piano part against the piece's own LMX, and whether MuseScore 3 imports every output.

  scripts/eval_omr_pages.py --data DEV --models BUNDLE --pieces 10 [--threads 2] [--json out.json]

DEV is a data factory build of the dev split (its scores/dev/ID/score.musicxml, the piano part
alone, are the pieces; scripts/build_dataset.py --images-only is enough). The pieces are spread
over the sorted ids, as scripts/eval_paper.py spreads its systems. Prints a table (per piece:
pages, systems, SER, seconds, MuseScore import) and the micro-average SER.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--models", default=os.path.join(REPO, "models", "default"))
    ap.add_argument("--pieces", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--umt", default=os.path.join(REPO, "build", "umt"))
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--keep", help="keep the PDFs and outputs in this folder")
    args = ap.parse_args()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    root = os.path.join(args.data, "scores", "dev")
    ids = sorted(d for d in os.listdir(root) if os.path.exists(os.path.join(root, d, "score.musicxml")))
    if len(ids) > args.pieces:
        ids = [ids[i] for i in np.linspace(0, len(ids) - 1, args.pieces).round().astype(int)]
    work = args.keep or tempfile.mkdtemp(prefix="umt-omr-pages-")
    os.makedirs(work, exist_ok=True)
    rows, edits, total = [], 0, 0
    for pid in ids:
        d = os.path.join(work, pid)
        os.makedirs(d, exist_ok=True)
        src = os.path.join(root, pid, "score.musicxml")
        pdf, xml, hyp, ref = (os.path.join(d, f) for f in ("piece.pdf", "piece.musicxml", "hyp.lmx", "ref.lmx"))
        row = {"piece": pid}
        r = run(["mscore3", "-o", pdf, src], env=env, timeout=300)
        if r.returncode != 0 or not os.path.exists(pdf):
            row["error"] = "mscore3 could not engrave it: " + r.stderr.strip()[-200:]
            rows.append(row)
            continue
        run([args.umt, "-q", "convert", src, "-o", ref], check=True, timeout=120)
        t0 = time.time()
        r = run([args.umt, "-q", "omr", pdf, "-o", xml, "--models", args.models, "--threads", str(args.threads)],
                timeout=3600)
        row["seconds"] = round(time.time() - t0, 2)
        if r.returncode != 0 or not os.path.exists(xml):
            row["error"] = "umt omr failed: " + r.stderr.strip()[-200:]
            rows.append(row)
            continue
        run([args.umt, "-q", "convert", xml, "-o", hyp], check=True, timeout=120)
        s = json.loads(run([args.umt, "eval", "ser", ref, hyp, "--json"], timeout=120).stdout)
        row.update(ser=round(s["ser"], 2), ref_tokens=s["ref_tokens"], hyp_tokens=s["hyp_tokens"])
        edits += s["errors"]
        total += s["ref_tokens"]
        sysj = run([args.umt, "-q", "systems", pdf, "-o", os.path.join(d, "systems")], timeout=300)
        if sysj.returncode == 0:
            doc = json.load(open(os.path.join(d, "systems", "systems.json")))
            row.update(pages=len(doc["pages"]), systems=len(doc["systems"]))
        imp = run(["mscore3", "-o", os.path.join(d, "reimport.mscx"), xml], env=env, timeout=300)
        row["musescore_imports"] = imp.returncode == 0 and os.path.exists(os.path.join(d, "reimport.mscx"))
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    done = [r for r in rows if "ser" in r]
    out = {"pieces": len(rows), "read": len(done), "ser_micro": round(100 * edits / max(total, 1), 2),
           "musescore_imports": sum(1 for r in done if r.get("musescore_imports")),
           "seconds_per_system": round(sum(r["seconds"] for r in done) / max(1, sum(r.get("systems", 0) for r in done)), 3),
           "models": args.models, "threads": args.threads, "rows": rows}
    print(f"{'piece':12} {'pages':>5} {'systems':>7} {'SER %':>7} {'s':>7} import")
    for r in rows:
        if "error" in r:
            print(f"{r['piece']:12} error: {r['error']}")
        else:
            print(f"{r['piece']:12} {r.get('pages', '?'):>5} {r.get('systems', '?'):>7} {r['ser']:7.2f} {r['seconds']:7.1f} "
                  f"{'yes' if r['musescore_imports'] else 'NO'}")
    print(f"piece-level SER (micro) {out['ser_micro']} over {out['read']}/{out['pieces']} pieces; MuseScore imports "
          f"{out['musescore_imports']}/{out['read']}; {out['seconds_per_system']} s per system ({args.threads} threads, "
          "start-up and PDF rasterization included)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0 if len(done) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
