"""Engraving with MuseScore 3 and verovio, and reading back which measures each system holds.

Both engravers tell us their layout: MuseScore's .mpos lists every measure's box and
page (measures sharing a page and a top edge form one system); verovio's SVG nests
<g class="measure"> inside <g class="system">. Measures are counted in score order, so
a system is a contiguous range of measure indices; the total must equal the score's
measure count or the engraving is rejected.
"""
import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import numpy as np

from . import musicxml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VEROVIO_FONTS = ["Leipzig", "Bravura", "Gootville", "Leland", "Petaluma"]


@dataclass
class System:
    page: int                 # 0-based page index
    first_measure: int        # 0-based, inclusive
    measure_count: int
    box_px: tuple             # (left, top, right, bottom) of the staves on the page image
    staff_height_px: float    # top to bottom line of one staff


@dataclass
class Engraving:
    engraver: str
    pages: list               # grayscale page PNG paths (ink dark on white)
    systems: list
    params: dict = field(default_factory=dict)


class EngraveError(RuntimeError):
    pass


def verovio_available():
    return os.path.isdir(os.path.join(REPO, "tools", "node_modules", "verovio")) and _which("node") and _which("rsvg-convert")


def musescore_available():
    return bool(_which("mscore3"))


def _which(name):
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if os.path.isfile(os.path.join(d, name)) and os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return None


def _to_gray_png(src, dst):
    import cv2
    im = cv2.imread(src, cv2.IMREAD_UNCHANGED)
    if im is None:
        raise EngraveError(f"{src}: unreadable page image")
    if im.ndim == 3 and im.shape[2] == 4:
        # Transparent background: composite onto white.
        alpha = im[..., 3].astype(np.float32) / 255.0
        lum = cv2.cvtColor(im[..., :3], cv2.COLOR_BGR2GRAY).astype(np.float32)
        gray = 255.0 * (1 - alpha) + lum * alpha
    elif im.ndim == 3:
        gray = cv2.cvtColor(im, cv2.COLOR_BGR2GRAY).astype(np.float32)
    else:
        gray = im.astype(np.float32)
    cv2.imwrite(dst, np.clip(gray, 0, 255).astype(np.uint8))


def musescore(xml_path, out_dir, rng, staff_mm=None, dpi=None):
    """Engraves with MuseScore 3. Staff size goes in through MusicXML <defaults> (the
    importer honours <scaling>; it ignores page size and -S styles)."""
    staff_mm = staff_mm or float(rng.uniform(5.5, 8.5))
    dpi = dpi or int(rng.integers(130, 201))
    os.makedirs(out_dir, exist_ok=True)
    tree = musicxml.load(xml_path)
    root = tree.getroot()
    for d in root.findall("defaults"):
        root.remove(d)
    defaults = ET.Element("defaults")
    sc = ET.SubElement(defaults, "scaling")
    ET.SubElement(sc, "millimeters").text = f"{staff_mm:.3f}"
    ET.SubElement(sc, "tenths").text = "40"
    pl = list(root).index(root.find("part-list"))
    root.insert(pl, defaults)
    src = os.path.join(out_dir, "input.musicxml")
    musicxml.write(tree, src)
    job = [{"in": src, "out": [os.path.join(out_dir, "ms.mpos"), os.path.join(out_dir, "ms.png")]}]
    with open(os.path.join(out_dir, "job.json"), "w") as f:
        json.dump(job, f)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run(["mscore3", "-r", str(dpi), "-j", os.path.join(out_dir, "job.json")],
                       capture_output=True, text=True, env=env, timeout=300)
    mpos = os.path.join(out_dir, "ms.mpos")
    if r.returncode != 0 or not os.path.exists(mpos):
        raise EngraveError(f"mscore3 failed: {r.stderr.strip()[-300:]}")
    raw_pages = sorted((f for f in os.listdir(out_dir) if re.match(r"ms-\d+\.png$", f)),
                       key=lambda f: int(f[3:-4]))
    pages = []
    for i, f in enumerate(raw_pages):
        dst = os.path.join(out_dir, f"page-{i + 1}.png")
        _to_gray_png(os.path.join(out_dir, f), dst)
        os.remove(os.path.join(out_dir, f))
        pages.append(dst)
    # .mpos units are 1/12 pixel at the export resolution.
    boxes = []
    for el in ET.parse(mpos).getroot().iter("element"):
        x, y, sx, sy = (float(el.get(k)) / 12.0 for k in ("x", "y", "sx", "sy"))
        boxes.append((int(el.get("page", 0)), x, y, sx, sy))
    systems = []
    for i, (page, x, y, sx, sy) in enumerate(boxes):
        if systems and systems[-1].page == page and abs(systems[-1].box_px[1] - y) < 1.0:
            s = systems[-1]
            s.measure_count += 1
            s.box_px = (min(s.box_px[0], x), s.box_px[1], max(s.box_px[2], x + sx), s.box_px[3])
        else:
            # Two staves of 4 spaces with a gap of about 6.5 spaces (MuseScore's piano default).
            systems.append(System(page, i, 1, (x, y, x + sx, y + sy), sy * 4 / 14.5))
    return Engraving("musescore", pages, systems, {"staff_mm": round(staff_mm, 3), "dpi": dpi})


def _svg_systems(svg_path):
    """[(measure_count, staff line ys, xs)] per system, in SVG page pixels."""
    tree = ET.parse(svg_path)
    root = tree.getroot()
    ns = "{http://www.w3.org/2000/svg}"
    width_px = float(root.get("width").rstrip("px"))
    inner = next(el for el in root.iter(ns + "svg") if el.get("viewBox"))
    vb_w = float(inner.get("viewBox").split()[2])
    scale = width_px / vb_w
    offset = (0.0, 0.0)
    for g in inner.iter(ns + "g"):
        if g.get("class") == "page-margin":
            m = re.match(r"translate\(([-\d.]+),\s*([-\d.]+)\)", g.get("transform", ""))
            if m:
                offset = (float(m.group(1)), float(m.group(2)))
            break
    out = []
    for g in inner.iter(ns + "g"):
        if (g.get("class") or "").split()[:1] != ["system"]:
            continue
        measures = sum(1 for m in g.iter(ns + "g") if (m.get("class") or "").split()[:1] == ["measure"])
        staff_lines = []
        for st in g.iter(ns + "g"):
            if (st.get("class") or "").split()[:1] != ["staff"]:
                continue
            ys, xs = [], []
            for p in st.findall(ns + "path"):
                mm = re.match(r"M([-\d.]+) ([-\d.]+) L([-\d.]+) ([-\d.]+)", p.get("d", ""))
                if mm and mm.group(2) == mm.group(4):
                    xs += [float(mm.group(1)), float(mm.group(3))]
                    ys.append(float(mm.group(2)))
            if ys:
                staff_lines.append((min(ys), max(ys), min(xs), max(xs)))
        if not staff_lines:
            continue
        top = min(s[0] for s in staff_lines)
        bottom = max(s[1] for s in staff_lines)
        left = min(s[2] for s in staff_lines)
        right = max(s[3] for s in staff_lines)
        staff_h = staff_lines[0][1] - staff_lines[0][0]
        tr = lambda v, o: (v + o) * scale
        out.append((measures, (tr(left, offset[0]), tr(top, offset[1]), tr(right, offset[0]), tr(bottom, offset[1])),
                    staff_h * scale))
    return out


def verovio(xml_path, out_dir, rng, font=None, page_width=None, scale=None, zoom=None):
    """Engraves with verovio (SVG per page, rasterized by rsvg-convert)."""
    font = font or VEROVIO_FONTS[int(rng.integers(0, len(VEROVIO_FONTS)))]
    page_width = page_width or int(rng.integers(1700, 2400))
    scale = scale or int(rng.integers(30, 50))
    zoom = zoom or float(rng.uniform(1.4, 2.2))
    os.makedirs(out_dir, exist_ok=True)
    opts = {"pageWidth": page_width, "pageHeight": int(page_width * 1.414), "scale": scale, "font": font,
            "pageMarginLeft": 50, "pageMarginRight": 50, "pageMarginTop": 50, "pageMarginBottom": 50}
    r = subprocess.run(["node", os.path.join(HERE, "verovio_render.js"), xml_path, out_dir, json.dumps(opts)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise EngraveError(f"verovio failed: {r.stderr.strip()[-300:]}")
    with open(os.path.join(out_dir, "layout.json")) as f:
        layout = json.load(f)
    pages, systems = [], []
    first = 0
    for i, page in enumerate(layout["pages"]):
        svg = os.path.join(out_dir, page["file"])
        png = os.path.join(out_dir, f"page-{i + 1}.png")
        tmp = png + ".rgba.png"
        rr = subprocess.run(["rsvg-convert", "-b", "white", "-z", f"{zoom:.3f}", "-o", tmp, svg],
                            capture_output=True, text=True, timeout=300)
        if rr.returncode != 0:
            raise EngraveError(f"rsvg-convert failed on {svg}: {rr.stderr.strip()[-200:]}")
        _to_gray_png(tmp, png)
        os.remove(tmp)
        pages.append(png)
        for measures, box, staff_h in _svg_systems(svg):
            systems.append(System(i, first, measures, tuple(v * zoom for v in box), staff_h * zoom))
            first += measures
        os.remove(svg)
    return Engraving("verovio", pages, systems,
                     {"font": font, "page_width": page_width, "scale": scale, "zoom": round(zoom, 3)})


def check_measures(eng, measure_count):
    total = sum(s.measure_count for s in eng.systems)
    if total != measure_count:
        raise EngraveError(f"{eng.engraver} laid out {total} measures, the score has {measure_count}")
    expect = 0
    for s in eng.systems:
        if s.first_measure != expect:
            raise EngraveError(f"{eng.engraver}: systems are not contiguous at measure {expect}")
        expect += s.measure_count
