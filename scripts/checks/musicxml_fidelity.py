#!/usr/bin/env python3
"""MusicXML -> MusicXML fidelity of `umt convert`: per element kind, kept / present.

For each dev score X.mxl: umt convert X.mxl -> Y.musicxml, and X.mxl -> Z.mxl -> W.musicxml.
Every element of X is a signature (part, measure, note index in the measure, element kind,
its text, its attributes less positioning and typography); an element is kept when the
output holds the same signature (multiset intersection). Kinds are the census's kinds
(scripts/checks/musicxml_census.py); the table lists those in >= --min-percent of the scores.

Positioning and typography attributes (default-x/y, relative-x/y, bezier-*, font-*, color,
placement, orientation, justify, halign, valign) are left out of the signature: they are
page layout, which the model keeps only where it is stored verbatim.

Usage: scripts/checks/musicxml_fidelity.py [--umt build/umt] [--lieder ../shared/data/lieder] [--split dev]
"""
import argparse
import collections
import os
import pathlib
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
from musicxml_census import QUALIFIED, read_mxl  # noqa: E402

LAYOUT = {"color", "placement", "orientation", "justify", "halign", "valign"}
LAYOUT_PREFIXES = ("default-", "relative-", "bezier-", "font-")
# Elements whose content umt rewrites by design: the encoding names umt as software and
# durations follow the output's <divisions>. They are compared by count only.
COUNT_ONLY = {"software", "duration", "divisions"}


def semantic_attrs(e):
    return tuple(sorted((k, v) for k, v in e.attrib.items()
                        if k not in LAYOUT and not k.startswith(LAYOUT_PREFIXES)))


def signatures(xml_bytes):
    root = ET.fromstring(xml_bytes)
    sigs = collections.Counter()

    def walk(e, parent, ctx):
        kind = f"{parent}/{e.tag}" if e.tag in QUALIFIED else e.tag
        text = (e.text or "").strip()
        if kind.split("/")[-1] in COUNT_ONLY:
            sigs[(kind, ctx[0], ctx[1])] += 1
        else:
            sigs[(kind, ctx, text, semantic_attrs(e))] += 1
        for c in e:
            walk(c, e.tag, ctx)

    for c in root:
        if c.tag != "part":
            walk(c, root.tag, (-1, -1, -1))
    for pi, part in enumerate(root.findall("part")):
        sigs[("part", (pi, -1, -1), "", semantic_attrs(part))] += 1
        for mi, m in enumerate(part.findall("measure")):
            sigs[("measure", (pi, mi, -1), "", semantic_attrs(m))] += 1
            ni = 0
            for c in m:
                if c.tag == "note":
                    walk(c, "measure", (pi, mi, ni))
                    ni += 1
                else:
                    walk(c, "measure", (pi, mi, -1))
    return sigs


def kind_of(sig):
    return sig[0]


def compare(orig, out):
    present = collections.Counter()
    kept = collections.Counter()
    for sig, n in orig.items():
        present[kind_of(sig)] += n
        kept[kind_of(sig)] += min(n, out.get(sig, 0))
    return present, kept


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--umt", default="build/umt")
    ap.add_argument("--lieder", default="../shared/data/lieder")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--min-percent", type=float, default=1.0)
    ap.add_argument("--show-losses", type=int, default=0, help="print up to N lost signatures per kind")
    args = ap.parse_args()
    files = sorted(pathlib.Path(args.lieder, args.split).glob("*.mxl"))
    if not files:
        sys.exit(f"{args.lieder}/{args.split}: no .mxl files")
    with tempfile.TemporaryDirectory() as tmp:
        y, z, w = (os.path.join(tmp, d) for d in ("y", "z", "w"))
        src = str(pathlib.Path(args.lieder, args.split))
        for cmd in ([args.umt, "-q", "convert", src, "-o", y, "--to", "musicxml"],
                    [args.umt, "-q", "convert", src, "-o", z, "--to", "mxl"]):
            subprocess.run(cmd, check=True)
        subprocess.run([args.umt, "-q", "convert", z, "-o", w, "--to", "musicxml"], check=True)
        totals = {name: (collections.Counter(), collections.Counter()) for name in ("musicxml", "mxl")}
        scores_with = collections.Counter()
        losses = collections.defaultdict(list)
        for f in files:
            orig = signatures(read_mxl(f))
            for k in {kind_of(s) for s in orig}:
                scores_with[k] += 1
            for name, d in (("musicxml", y), ("mxl", w)):
                out = signatures(pathlib.Path(d, f.stem + ".musicxml").read_bytes())
                present, kept = compare(orig, out)
                totals[name][0].update(present)
                totals[name][1].update(kept)
                if name == "musicxml" and args.show_losses:
                    for sig, n in orig.items():
                        if out.get(sig, 0) < n and len(losses[kind_of(sig)]) < args.show_losses:
                            losses[kind_of(sig)].append((f.stem, sig))
    n = len(files)
    print(f"# MusicXML -> MusicXML fidelity over {n} {args.split} scores (kinds in >= {args.min_percent:g} % of them)")
    print("| kind | scores | present | kept (.musicxml) | % | kept (via .mxl) | % |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    worst = 100.0
    for k, s in sorted(scores_with.items(), key=lambda kv: (-kv[1], kv[0])):
        if 100.0 * s / n < args.min_percent:
            continue
        p = totals["musicxml"][0][k]
        k1, k2 = totals["musicxml"][1][k], totals["mxl"][1][k]
        pct1, pct2 = 100.0 * k1 / p, 100.0 * k2 / p
        worst = min(worst, pct1, pct2)
        print(f"| {k} | {s} | {p} | {k1} | {pct1:.2f} | {k2} | {pct2:.2f} |")
    print(f"\nlowest kept share: {worst:.2f} %")
    for k, items in sorted(losses.items()):
        for stem, sig in items:
            print(f"lost {k}: {stem} {sig}")


if __name__ == "__main__":
    main()
