#!/usr/bin/env python3
"""Joins the JSONL reports of umt batch shards (umt ... --shard I/N --report FILE) into one.

    merge_reports.py [--expect N] report-*.jsonl -o report.jsonl

Writes every input line once, in input order, and one summary line; prints the summary.
Exit status 1 when an input failed, an input appears in two shards, or a shard's report has
no summary line (the task died before finishing: submit the same command again, finished
outputs are skipped); 2 for usage errors.
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--expect", type=int, default=0, help="number of shards that must have reported")
    args = ap.parse_args()

    lines, summaries, problems = {}, [], []
    for path in args.reports:
        try:
            with open(path, encoding="utf-8") as f:
                rows = [json.loads(l) for l in f if l.strip()]
        except (OSError, ValueError) as e:
            problems.append(f"{path}: unreadable report ({e})")
            continue
        summary = [r["summary"] for r in rows if "summary" in r]
        if not summary:
            problems.append(f"{path}: no summary line: the task stopped before finishing its shard")
        summaries += summary
        for r in rows:
            if "input" not in r:
                continue
            if r["input"] in lines:
                problems.append(f"{r['input']}: in two shards ({path})")
            lines[r["input"]] = r
    if args.expect and len(args.reports) != args.expect:
        problems.append(f"{len(args.reports)} reports for {args.expect} shards")

    counts = {s: sum(1 for r in lines.values() if r["status"] == s) for s in ("done", "skipped", "failed")}
    summary = {"inputs": len(lines), **counts, "shards": len(summaries),
               "seconds": max((s.get("seconds", 0.0) for s in summaries), default=0.0),
               "problems": problems}
    with open(args.output, "w", encoding="utf-8") as out:
        for key in sorted(lines):
            out.write(json.dumps(lines[key], ensure_ascii=False) + "\n")
        out.write(json.dumps({"summary": summary}) + "\n")
    print(json.dumps(summary))
    for r in lines.values():
        if r["status"] == "failed":
            print(f"failed: {r.get('error')}", file=sys.stderr)
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    return 1 if counts["failed"] or problems else 0


if __name__ == "__main__":
    sys.exit(main())
