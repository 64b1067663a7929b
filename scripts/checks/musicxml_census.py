#!/usr/bin/env python3
"""Element census of MusicXML scores: in how many scores each element kind occurs.

Decides what the Score model must hold (issue: cover every kind used by >= 1 % of
the Lieder scores). An element kind is the element name, qualified by its parent
for names that mean different things in different places (e.g. `dynamics` under
`direction-type` vs under `notations`).

Usage: scripts/checks/musicxml_census.py [LIEDER_DIR] [--min-percent 1]
"""
import argparse
import collections
import pathlib
import sys
import xml.etree.ElementTree as ET
import zipfile

# Names whose meaning depends on the parent: counted as parent/name.
QUALIFIED = {"dynamics", "words", "text", "staff", "voice", "duration", "fermata", "offset",
             "display-step", "display-octave", "sign", "line", "type", "number", "accidental"}


def read_mxl(path):
    with zipfile.ZipFile(path) as z:
        root_name = None
        try:
            c = ET.fromstring(z.read("META-INF/container.xml"))
            rf = c.find(".//rootfile")
            root_name = rf.get("full-path")
        except KeyError:
            root_name = next(n for n in z.namelist() if not n.startswith("META-INF") and n.endswith("xml"))
        return z.read(root_name)


def kinds_of(xml_bytes):
    root = ET.fromstring(xml_bytes)
    counts = collections.Counter()

    def walk(e, parent):
        name = e.tag
        kind = f"{parent}/{name}" if name in QUALIFIED else name
        counts[kind] += 1
        for c in e:
            walk(c, name)

    walk(root, "")
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lieder", nargs="?", default="../shared/data/lieder")
    ap.add_argument("--min-percent", type=float, default=1.0)
    args = ap.parse_args()
    files = sorted(pathlib.Path(args.lieder).glob("train/*.mxl")) + sorted(pathlib.Path(args.lieder).glob("dev/*.mxl"))
    if not files:
        sys.exit(f"{args.lieder}: no train/*.mxl or dev/*.mxl")
    scores_with = collections.Counter()
    total = collections.Counter()
    for f in files:
        c = kinds_of(read_mxl(f))
        for k, n in c.items():
            scores_with[k] += 1
            total[k] += n
    n = len(files)
    print(f"# {n} scores; element kinds in >= {args.min_percent:g} % of them")
    print(f"| kind | scores | % | occurrences |")
    print(f"|---|---:|---:|---:|")
    for k, s in sorted(scores_with.items(), key=lambda kv: (-kv[1], kv[0])):
        pct = 100.0 * s / n
        if pct >= args.min_percent:
            print(f"| {k} | {s} | {pct:.1f} | {total[k]} |")
    rare = sorted(k for k, s in scores_with.items() if 100.0 * s / n < args.min_percent)
    print(f"\nBelow {args.min_percent:g} %: {len(rare)} kinds: " + ", ".join(rare))


if __name__ == "__main__":
    main()
