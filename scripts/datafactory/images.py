"""Page and system images: scan-like degradation, crops from the engraver's layout,
`umt systems` runs, and the paper's discretization shift.
"""
import json
import os
import subprocess

import numpy as np


def _cv2():
    import cv2
    return cv2


def scan_augment(gray, rng):
    """(degraded page, parameters): paper tint, uneven lighting, slight rotation, blur,
    noise and sometimes binarization, each drawn from rng."""
    cv2 = _cv2()
    img = gray.astype(np.float32)
    h, w = img.shape
    p = {}
    paper = rng.uniform(215, 250)
    img = paper - (255.0 - img) * (paper / 255.0) * rng.uniform(0.8, 1.0)
    # Uneven lighting: a smooth multiplicative field from a coarse random grid.
    coarse = rng.uniform(0.72, 1.0, size=(3, 3)).astype(np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    img *= np.clip(field, 0.6, 1.05)
    angle = float(rng.uniform(-1.2, 1.2))
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=float(paper))
    sigma = float(rng.uniform(0.2, 1.1))
    img = cv2.GaussianBlur(img, (0, 0), sigma)
    noise = float(rng.uniform(2, 12))
    img += rng.normal(0, noise, size=img.shape).astype(np.float32)
    p.update(paper=round(paper, 1), rotation_deg=round(angle, 3), blur_sigma=round(sigma, 3), noise_std=round(noise, 2))
    if rng.random() < 0.3:
        t = float(rng.uniform(120, 180))
        img = np.where(img < t, 0.0, 255.0)
        p["binarized_at"] = round(t, 1)
    return np.clip(img, 0, 255).astype(np.uint8), p


def crop_from_layout(gray, box, staff_h, out_staff_h, neighbours=(None, None)):
    """A system crop from the engraver's own staff box, rescaled so that one staff is
    out_staff_h pixels high. Margins: 1.5 staff heights, cut at the middle between
    neighbouring systems."""
    cv2 = _cv2()
    left, top, right, bottom = box
    margin = 1.5 * staff_h
    y0 = top - margin
    y1 = bottom + margin
    if neighbours[0] is not None:
        y0 = max(y0, (neighbours[0] + top) / 2)
    if neighbours[1] is not None:
        y1 = min(y1, (bottom + neighbours[1]) / 2)
    x0 = left - 0.5 * staff_h
    x1 = right + 0.5 * staff_h
    h, w = gray.shape
    y0, y1 = int(max(0, y0)), int(min(h, y1))
    x0, x1 = int(max(0, x0)), int(min(w, x1))
    crop = gray[y0:y1, x0:x1]
    s = out_staff_h / max(staff_h, 1e-3)
    out = cv2.resize(crop, (max(1, int(round(crop.shape[1] * s))), max(1, int(round(crop.shape[0] * s)))),
                     interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    return out


def umt_systems(umt, pages, out_dir, staff_height, staff_bands=0):
    """Runs `umt systems` on the pages (with the band layout when staff_bands > 0); returns its
    systems.json entries grouped per page (same order as pages), or raises CalledProcessError."""
    os.makedirs(out_dir, exist_ok=True)
    subprocess.run([umt, "-q", "systems", *pages, "-o", out_dir, "--staff-height", str(staff_height),
                    "--staff-bands", str(staff_bands)],
                   check=True, capture_output=True, text=True, timeout=300)
    with open(os.path.join(out_dir, "systems.json")) as f:
        doc = json.load(f)
    per_page = {p: [] for p in pages}
    for s in doc["systems"]:
        per_page.setdefault(s["source"], []).append(s)
    return [sorted(per_page.get(p, []), key=lambda s: s["system"]) for p in pages]


def boxes_agree(detected, layout_box, tolerance_px):
    """True when a detected system box (x, y, w, h) and the engraver's staff box overlap
    vertically within tolerance: the detector found the same system."""
    x, y, w, h = detected
    _, top, _, bottom = layout_box
    centre_det = y + h / 2
    centre_lay = (top + bottom) / 2
    return abs(centre_det - centre_lay) <= tolerance_px and y <= top + tolerance_px and y + h >= bottom - tolerance_px


def shift_image(img, max_px, rng):
    """The paper's discretization shift: pad 0..max_px white columns/rows at the left and
    top so that the 16-pixel patch grid cuts the system at a different phase."""
    dx = int(rng.integers(0, max_px + 1))
    dy = int(rng.integers(0, max_px + 1))
    out = np.full((img.shape[0] + dy, img.shape[1] + dx), 255, dtype=img.dtype)
    out[dy:, dx:] = img
    return out, (dx, dy)


def image_tokens(height_px, width_px, patch=16, codes=4):
    """Codec tokens of one system image (DESIGN §2: 16x downsampling, 4 codes/frame)."""
    return -(-height_px // patch) * -(-width_px // patch) * codes
