"""OMR excerpts: short stretches of a score (1..4 measures) engraved on their own.

Each excerpt is a little score: its LMX is a slice of the piece's LMX with the running key and
clefs restated (datafactory/lmx.py slice_systems, as `umt convert --systems` restates them at a
system break), `umt convert` writes its MusicXML, verovio engraves it as one system in one of its
five fonts with drawn spacing and size, and `umt systems` cuts and normalises the system exactly
as inference does. The image shows what the LMX says, so the pair is exact by construction; short
excerpts are the easy start of the OMR curriculum (issue: SMT++'s incrementally harder synthetic
data) and every pass over the corpus draws new cuts and new engraving parameters.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

from . import lmx
from .engrave import HERE, VEROVIO_FONTS


def cut_points(n_measures, rng, k_max=4, weights=None):
    """Measure counts of consecutive excerpts covering a piece of n_measures: each 1..k_max drawn
    with weights (default uniform)."""
    w = np.asarray(weights if weights is not None else [1.0] * k_max, float)
    w = w / w.sum()
    counts, left = [], n_measures
    while left > 0:
        k = min(left, int(rng.choice(np.arange(1, k_max + 1), p=w)))
        counts.append(k)
        left -= k
    return counts


def slice_piece(tokens, rng, k_max=4, weights=None):
    """[(first measure, measure count, LMX tokens)] covering the piece."""
    n = len(lmx.split_measures(tokens))
    counts = cut_points(n, rng, k_max, weights)
    parts = lmx.slice_systems(tokens, counts)
    out, first = [], 0
    for k, toks in zip(counts, parts):
        out.append((first, k, toks))
        first += k
    return out


def staves_of(tokens):
    return 2 if any(t == "staff:2" for t in tokens) else 1


def draw_options(rng):
    """verovio options of one excerpt: font, spacing, staff distance and size (scale 25..45 gives a
    staff 20..56 px high on the PDF raster at 110..170 dpi; umt systems rescales it to the shipped
    32 px, down or up, as it does for pages scanned or rendered at any resolution)."""
    return {"font": VEROVIO_FONTS[int(rng.integers(0, len(VEROVIO_FONTS)))],
            "scale": int(rng.integers(25, 46)),
            "spacingLinear": round(float(rng.uniform(0.15, 0.4)), 3),
            "spacingNonLinear": round(float(rng.uniform(0.45, 0.7)), 3),
            "spacingStaff": int(rng.integers(8, 15))}


_PART_NAME = re.compile(r"<part-name>[^<]*</part-name>")


def render_chunk(umt, items, out_dirs, rng, staff_height=32, timeout=900, staff_bands=0):
    """items: [(id, LMX tokens)] -> ({id: record fields}, {id: failure}) with each image written to
    out_dirs[id]/ID.png. One `umt convert`, one verovio and one `umt systems` call for the whole chunk:
    the SVGs become the pages of one PDF (rsvg-convert), which umt systems rasterizes and cuts as
    it cuts a user's PDF."""
    done, failed = {}, {}
    with tempfile.TemporaryDirectory(prefix="umt-excerpts-") as tmp:
        src, xml, svg, cut = (os.path.join(tmp, d) for d in ("lmx", "xml", "svg", "cut"))

        def marks_path(eid):  # verovio_batch.js writes the page's note heads and rests here
            return os.path.join(svg, eid + ".json")
        for d in (src, xml, svg):
            os.makedirs(d)
        for eid, toks in items:
            with open(os.path.join(src, eid + ".lmx"), "w") as f:
                f.write(" ".join(toks) + "\n")
        r = subprocess.run([umt, "-q", "convert", src, "-o", xml, "--to", "musicxml"],
                           capture_output=True, text=True, timeout=timeout)
        jobs, params = [], {}
        for eid, _ in items:
            path = os.path.join(xml, eid + ".musicxml")
            if not os.path.exists(path):
                failed[eid] = "umt convert: " + (r.stderr.strip().splitlines() or ["no output"])[-1][:200]
                continue
            with open(path) as f:
                text = _PART_NAME.sub("<part-name></part-name>", f.read())  # no "Piano" label left of the staff
            with open(path, "w") as f:
                f.write(text)
            params[eid] = draw_options(rng)
            jobs.append({"in": path, "out": os.path.join(svg, eid + ".svg"), "heads": marks_path(eid),
                         "options": params[eid]})
        with open(os.path.join(tmp, "jobs.json"), "w") as f:
            json.dump(jobs, f)
        r = subprocess.run(["node", os.path.join(HERE, "verovio_batch.js"), os.path.join(tmp, "jobs.json")],
                           capture_output=True, text=True, timeout=timeout)
        for line in r.stdout.splitlines():
            if line.startswith("FAILED "):
                failed[os.path.basename(line[7:].split(":")[0])[:-len(".musicxml")]] = "verovio: " + line[7:][-200:]
        order = []
        for j in jobs:
            eid = os.path.basename(j["out"])[:-4]
            if os.path.exists(j["out"]):
                order.append(eid)
            else:
                failed.setdefault(eid, "verovio: no SVG")
        if not order:
            return done, failed
        pdf = os.path.join(tmp, "excerpts.pdf")
        rr = subprocess.run(["rsvg-convert", "-f", "pdf", "-b", "white", "-o", pdf,
                             *[os.path.join(svg, e + ".svg") for e in order]], capture_output=True, text=True,
                            timeout=timeout)
        if rr.returncode != 0:
            for e in order:
                failed[e] = "rsvg-convert: " + rr.stderr.strip()[-200:]
            return done, failed
        dpi = int(rng.integers(110, 171))
        subprocess.run([umt, "-q", "systems", pdf, "-o", cut, "--staff-height", str(staff_height), "--dpi", str(dpi),
                        "--staff-bands", str(staff_bands)],
                       capture_output=True, text=True, timeout=timeout)
        found, pages_info = {}, {}
        report = os.path.join(cut, "systems.json")
        if os.path.exists(report):
            with open(report) as f:
                doc = json.load(f)
            pages_info = {p["page"]: p for p in doc.get("pages", [])}
            for s in doc.get("systems", []):
                found.setdefault(s["page"], []).append(s)
        toks = dict(items)
        for page, eid in enumerate(order, 1):
            systems = found.get(page, [])
            info = pages_info.get(page, {})
            if len(systems) != 1 or info.get("staves") != staves_of(toks[eid]):
                failed[eid] = f"umt systems: {len(systems)} systems, {info.get('staves')} staves"
                continue
            os.makedirs(out_dirs[eid], exist_ok=True)
            dst = os.path.join(out_dirs[eid], eid + ".png")
            shutil.move(os.path.join(cut, systems[0]["file"]), dst)
            done[eid] = {"image_height": systems[0]["height"], "image_width": systems[0]["width"],
                         "staff_bands": staff_bands,
                         "engrave": dict(params[eid], dpi=dpi,
                                         staff_px=round(4 * info.get("line_distance_px", 0), 1))}
            if os.path.exists(marks_path(eid)):
                with open(marks_path(eid)) as f:
                    done[eid].update(heads_in_image(json.load(f), systems[0], dpi))
    return done, failed


SVG_DPI = 96  # rsvg-convert's pixels per inch: an SVG pixel is 72/96 PDF points


def heads_in_image(marks, system, dpi):
    """verovio_batch.js's note heads and rests (x in SVG pixels) -> the record's "heads" [[x, staff,
    pos]] and "rests" [[x, staff]] with x in the cut image's pixels: the PDF page rasterized at dpi,
    cut at the system's box and scaled by its normalization (`umt systems` systems.json); staff and
    pos (half staff spaces below the top line) as the SVG gives them. The dense target of the
    encoder (scripts/train_omr.py --head-loss)."""
    x0, scale = system["box"][0], system["scale"]

    def to_image(x):
        return round((x * dpi / SVG_DPI - x0) * scale, 1)

    return {"heads": [[to_image(x), staff, pos] for x, staff, pos in marks["heads"]],
            "rests": [[to_image(x), staff] for x, staff in marks["rests"]]}
