#!/usr/bin/env python3
"""Does MuseScore 3 read umt's MusicXML as it reads the original?

For each score X.mxl of the split: Y.musicxml = umt convert X.mxl; MuseScore 3 exports both
to MusicXML (one batch job), and the two exports are compared on notes (part, measure,
pitch, duration, voice), lyrics (part, measure, verse, syllabic, text) and dynamics (part,
measure, mark). Prints per kind: scores where the exports agree, and elements matched.

Usage: QT_QPA_PLATFORM=offscreen scripts/checks/musescore_import.py [--umt build/umt] [--mscore mscore3] [--lieder ../shared/data/lieder] [--split dev]
"""
import argparse
import collections
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET


def content(path):
    # MuseScore 3 sometimes writes an element without its name ("< default-x=... />", seen in
    # lc6421815 and lc6474359, for the original as much as for umt's file); such tags are dropped.
    text = re.sub(r"<\s+[^<>]*/>", "", pathlib.Path(path).read_text(encoding="utf-8"))
    root = ET.fromstring(text)
    out = {"notes": collections.Counter(), "lyrics": collections.Counter(), "dynamics": collections.Counter()}
    for pi, part in enumerate(root.findall("part")):
        for mi, m in enumerate(part.findall("measure")):
            for n in m.iter("note"):
                p = n.find("pitch")
                pitch = "rest" if p is None else (p.findtext("step"), p.findtext("alter") or "0", p.findtext("octave"))
                out["notes"][(pi, mi, pitch, n.findtext("duration"), n.findtext("voice"), n.find("chord") is not None)] += 1
                for ly in n.findall("lyric"):
                    out["lyrics"][(pi, mi, ly.get("number"), ly.findtext("syllabic"),
                                   "".join(t.text or "" for t in ly.findall("text")))] += 1
            for d in m.iter("dynamics"):
                for mark in d:
                    out["dynamics"][(pi, mi, mark.tag, mark.text or "")] += 1
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--umt", default="build/umt")
    ap.add_argument("--mscore", default="mscore3")
    ap.add_argument("--lieder", default="../shared/data/lieder")
    ap.add_argument("--split", default="dev")
    ap.add_argument("--work", default="", help="keep the exports in this folder (default: a temporary one)")
    args = ap.parse_args()
    files = sorted(pathlib.Path(args.lieder, args.split).glob("*.mxl"))
    if not files:
        sys.exit(f"{args.lieder}/{args.split}: no .mxl files")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.work or scratch
        os.makedirs(tmp, exist_ok=True)
        ours = os.path.join(tmp, "umt")
        subprocess.run([args.umt, "-q", "convert", str(pathlib.Path(args.lieder, args.split)), "-o", ours, "--to", "musicxml"],
                       check=True)
        job = []
        for f in files:
            job.append({"in": str(f), "out": os.path.join(tmp, f.stem + ".orig.musicxml")})
            job.append({"in": os.path.join(ours, f.stem + ".musicxml"), "out": os.path.join(tmp, f.stem + ".umt.musicxml")})
        with open(os.path.join(tmp, "job.json"), "w") as fh:
            json.dump(job, fh)
        subprocess.run([args.mscore, "-j", os.path.join(tmp, "job.json")], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        agree = collections.Counter()
        matched = collections.Counter()
        present = collections.Counter()
        read = 0
        bad = []
        for f in files:
            a, b = (os.path.join(tmp, f.stem + s) for s in (".orig.musicxml", ".umt.musicxml"))
            if not (os.path.exists(a) and os.path.exists(b)):
                bad.append(f"{f.stem}: MuseScore wrote no export")
                continue
            try:
                ca, cb = content(a), content(b)
            except ET.ParseError as e:
                bad.append(f"{f.stem}: a MuseScore export is not well-formed XML ({e})")
                continue
            read += 1
            for kind in ca:
                present[kind] += sum(ca[kind].values())
                matched[kind] += sum((ca[kind] & cb[kind]).values())
                if ca[kind] == cb[kind]:
                    agree[kind] += 1
                else:
                    bad.append(f"{f.stem}: {kind} differ")
    print(f"# MuseScore 3 import of umt's MusicXML vs the original, {len(files)} {args.split} scores ({read} exported)")
    print("| kind | scores where the exports agree | elements matched | elements |")
    print("|---|---:|---:|---:|")
    for kind in ("notes", "lyrics", "dynamics"):
        print(f"| {kind} | {agree[kind]}/{read} | {matched[kind]} | {present[kind]} |")
    for line in bad[:20]:
        print(line)


if __name__ == "__main__":
    main()
