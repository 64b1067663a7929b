#!/usr/bin/python3
"""Checks `umt systems` against MuseScore's own layout on OpenScore Lieder dev pages.

Renders N dev scores with MuseScore 3 (PNG at 150 dpi, SVG, measure positions), takes
the true systems (distinct measure rows in .mpos) and staves per system (5-line groups
of StaffLines in the SVG), makes scan-like variants of every page, runs `umt systems`
on each variant and prints a table of system-detection accuracy, and of staff groups: a
system's groups must be the score's parts (their staff counts, top to bottom).

Variants: clean, scan (fixed 1 degree / blur / noise), scan-binarized, rotated-2.5,
degraded (the data factory's random page degradation, scripts/datafactory/images.py, fixed
seed), and the same pages rendered at 300 dpi: 300dpi (clean) and 300dpi-degraded.

usage: scripts/checks/check_layout.py [--umt build/umt] [--scores 20] [--work build-media/layout-check]
                               [--variants clean,degraded] [--pages N]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from datafactory import musicxml  # noqa: E402
from datafactory.images import scan_augment  # noqa: E402  (the factory's own degradation)

DPI = 150
HI_DPI = 300
SVG_DPI = 360  # MuseScore's SVG user unit; .mpos is 1/12 px at the PNG resolution


def render(scores, work, dpi=DPI, folder="render", exts=(".png", ".svg", ".mpos")):
    jobs = []
    for path in scores:
        sid = os.path.splitext(os.path.basename(path))[0]
        d = os.path.join(work, folder, sid)
        if os.path.exists(os.path.join(d, sid + ".done")) or os.path.exists(os.path.join(d, sid + ".mpos")):
            continue
        os.makedirs(d, exist_ok=True)
        jobs.append({"in": os.path.abspath(path),
                     "out": [os.path.join(d, sid + ext) for ext in exts]})
    if jobs:
        job = os.path.join(work, folder + "-job.json")
        with open(job, "w") as f:
            json.dump(jobs, f)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        subprocess.run(["nice", "mscore3", "-r", str(dpi), "-j", job], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
        for j in jobs:
            open(os.path.splitext(j["out"][0])[0] + ".done", "w").close()


def part_staves(mxl):
    """Staff count of each part of a score, in score order."""
    return [musicxml._staves_of(part) for part in musicxml.load(mxl).getroot().findall("part")]


def truth_for(work, sid):
    """Per page: list of systems, each (top_y, bottom_y, centre_x, n_staves) in PNG pixels."""
    d = os.path.join(work, "render", sid)
    rows = {}
    for el in ET.parse(os.path.join(d, sid + ".mpos")).getroot().iter("element"):
        page = int(el.get("page"))
        k = SVG_DPI / DPI / 12  # .mpos units -> SVG units
        y, sy = float(el.get("y")) * k, float(el.get("sy")) * k
        x, sx = float(el.get("x")) * k, float(el.get("sx")) * k
        key = (page, round(y, 1))
        r = rows.setdefault(key, [y, y + sy, x, x + sx])
        r[2], r[3] = min(r[2], x), max(r[3], x + sx)
    pages = {}
    for (page, _), (y0, y1, x0, x1) in sorted(rows.items()):
        svg = os.path.join(d, "%s-%d.svg" % (sid, page + 1))
        text = open(svg).read()
        ys = sorted(float(m) for m in re.findall(r'class="StaffLines"[^>]*points="[\d.]+,([\d.]+)', text))
        # Five consecutive lines make a staff (MuseScore writes them in order per staff).
        staves = [ys[i:i + 5] for i in range(0, len(ys) - len(ys) % 5, 5)]
        tops = sorted(set(round(s[0], 1) for s in staves))
        inside = [t for t in tops if y0 - 1 <= t <= y1 + 1]
        bottoms = [s[4] for s in staves if round(s[0], 1) in inside]
        k = DPI / SVG_DPI
        if inside:
            pages.setdefault(page + 1, []).append((min(inside) * k, max(bottoms) * k, (x0 + x1) / 2 * k, len(inside)))
    return pages


def read_gray(src_png):
    img = cv2.imread(src_png, cv2.IMREAD_UNCHANGED)
    if img.shape[2] == 4:
        a = img[:, :, 3:4].astype(np.float32) / 255
        bgr = img[:, :, :3].astype(np.float32) * a + 255 * (1 - a)
        gray = cv2.cvtColor(bgr.astype(np.uint8), cv2.COLOR_BGR2GRAY)
    else:
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return gray


def put_page(out, out_dir, name, stem, im, m):
    p = os.path.join(out_dir, name, stem + ".png")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    cv2.imwrite(p, im)
    out[name] = (p, m)


def degraded(gray, rng):
    """The data factory's page degradation; returns (page, affine from clean coords)."""
    h, w = gray.shape
    deg, p = scan_augment(gray, rng)
    return deg, cv2.getRotationMatrix2D((w / 2, h / 2), p["rotation_deg"], 1.0)


def variants(src_png, out_dir, stem, rng, rng_deg):
    """Writes gray page variants; returns {variant: (path, 2x3 affine from clean page coords)}."""
    gray = read_gray(src_png)
    h, w = gray.shape
    ident = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
    out = {}

    def put(name, im, m):
        put_page(out, out_dir, name, stem, im, m)

    put("clean", gray, ident)
    # Scan-like: 1 degree rotation, blur, sensor noise, slightly grey paper.
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 1.0, 1.0)
    rot = cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    blur = cv2.GaussianBlur(rot, (0, 0), 0.8)
    noisy = np.clip(blur.astype(np.float32) * 0.92 + 8 + rng.normal(0, 10, blur.shape), 0, 255).astype(np.uint8)
    put("scan", noisy, m)
    _, binar = cv2.threshold(noisy, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    put("scan-binarized", binar, m)
    m2 = cv2.getRotationMatrix2D((w / 2, h / 2), -2.5, 1.0)
    put("rotated-2.5", cv2.warpAffine(gray, m2, (w, h), flags=cv2.INTER_LINEAR, borderValue=255), m2)
    put("degraded", *degraded(gray, rng_deg))
    return out


def hi_variants(src_png, out_dir, stem, rng_deg):
    """300-dpi page variants; affines map 150-dpi truth coordinates onto the page."""
    gray = read_gray(src_png)
    k = HI_DPI / DPI
    scale = np.array([[k, 0, 0], [0, k, 0], [0, 0, 1]], np.float64)
    out = {}
    put_page(out, out_dir, "300dpi", stem, gray, scale[:2])
    deg, m = degraded(gray, rng_deg)
    put_page(out, out_dir, "300dpi-degraded", stem, deg, m @ scale)
    return out


def score_page(truth, detected, m, parts):
    """Greedy one-to-one matching: a truth system matches a detection whose quad holds its centre.
    Returns matched systems, those with the right staff count, and those whose staff groups are
    the score's parts."""
    used = set()
    matched = staves_ok = groups_ok = 0
    for (y0, y1, cx, n) in truth:
        c = m @ np.array([cx, (y0 + y1) / 2, 1.0])
        for i, det in enumerate(detected):
            if i in used:
                continue
            quad = np.array(det["corners"], np.float32)
            if cv2.pointPolygonTest(quad, (float(c[0]), float(c[1])), False) >= 0:
                used.add(i)
                matched += 1
                staves_ok += det["staves"] == n
                groups_ok += [g["staves"] for g in det["staff_groups"]] == parts
                break
    return matched, staves_ok, groups_ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--umt", default=os.path.join(ROOT, "build", "umt"))
    ap.add_argument("--scores", type=int, default=20)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "lieder", "dev"))
    ap.add_argument("--work", default=os.path.join(ROOT, "build-media", "layout-check"))
    ap.add_argument("--variants", default="", help="comma-separated subset of the variants (default: all)")
    ap.add_argument("--show-failures", type=int, default=5)
    ap.add_argument("--pages", type=int, default=0, help="only the first N pages (quick iteration)")
    args = ap.parse_args()
    wanted = set(v for v in args.variants.split(",") if v)
    scores = sorted(os.path.join(args.data, f) for f in os.listdir(args.data) if f.endswith(".mxl"))[:args.scores]
    os.makedirs(args.work, exist_ok=True)
    t0 = time.time()
    render(scores, args.work)
    if not wanted or any(v.startswith("300dpi") for v in wanted):
        render(scores, args.work, HI_DPI, "render300", (".png",))
    print("rendered %d scores with MuseScore 3 in %.0f s" % (len(scores), time.time() - t0), file=sys.stderr)
    rng = np.random.default_rng(0)
    rng_deg = np.random.default_rng(1)
    rng_hi = np.random.default_rng(2)
    n_pages = 0
    pages = {}  # variant -> list of (stem, truth systems, path, affine)
    for path in scores:
        sid = os.path.splitext(os.path.basename(path))[0]
        truth = truth_for(args.work, sid)
        parts = part_staves(path)
        for page, systems in sorted(truth.items()):
            png = os.path.join(args.work, "render", sid, "%s-%d.png" % (sid, page))
            if not os.path.exists(png):
                continue
            if args.pages and n_pages >= args.pages:
                break
            n_pages += 1
            stem = "%s-%d" % (sid, page)
            vs = variants(png, os.path.join(args.work, "pages"), stem, rng, rng_deg)
            hi = os.path.join(args.work, "render300", sid, "%s-%d.png" % (sid, page))
            if os.path.exists(hi):
                vs.update(hi_variants(hi, os.path.join(args.work, "pages"), stem, rng_hi))
            for name, (p, m) in vs.items():
                if not wanted or name in wanted:
                    pages.setdefault(name, []).append((stem, systems, p, m, parts))
    print("| variant | pages | true systems | detected | recall | precision | staves right | staff groups = parts "
          "| pages exactly right | pages/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, items in pages.items():
        out = os.path.join(args.work, "out", name)
        t = time.time()
        subprocess.run([args.umt, "-q", "systems", "-o", out] + [it[2] for it in items], check=False)
        dt = time.time() - t
        det = json.load(open(os.path.join(out, "systems.json")))["systems"]
        by_src = {}
        for s in det:
            by_src.setdefault(s["source"], []).append(s)
        n_true = n_det = n_match = n_staves = n_groups = n_exact = 0
        failures = []
        for stem, truth, p, m, parts in items:
            d = by_src.get(p, [])
            matched, staves_ok, groups_ok = score_page(truth, d, m, parts)
            n_true += len(truth)
            n_det += len(d)
            n_match += matched
            n_staves += staves_ok
            n_groups += groups_ok
            exact = matched == len(truth) == len(d) and staves_ok == matched
            n_exact += exact
            if not exact:
                failures.append("%s: truth %s, detected %s" % (stem, [t[3] for t in truth], [s["staves"] for s in d]))
            if groups_ok < matched:
                failures.append("%s: parts %s, staff groups %s" % (
                    stem, parts, [[g["staves"] for g in s["staff_groups"]] for s in d]))
        print("| %s | %d | %d | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f |" % (
            name, len(items), n_true, n_det, n_match / max(1, n_true), n_match / max(1, n_det),
            n_staves / max(1, n_true), n_groups / max(1, n_true), n_exact / max(1, len(items)), len(items) / dt))
        for f in failures[:args.show_failures]:
            print("  %s: %s" % (name, f), file=sys.stderr)


if __name__ == "__main__":
    main()
