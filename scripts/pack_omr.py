#!/usr/bin/python3
"""Packs OMR training data into one file that a trainer on another machine reads with no engraver,
no umt and no bundle there (scripts/train_omr.py --pack PACK):

  scripts/pack_omr.py --excerpts EXC --systems SYS --dev-systems DEV --out PACK [--excerpt-share 0.5]

PACK/pack.pkl.xz holds the training examples ([kind, [image], LMX]: kinds 0..3 excerpts of 1..4
measures, 4 full systems; each image quantized to --levels gray levels and bit-packed, the whole
compressed by LZMA) and the fixed dev sets as PNG (the same 150 dev excerpts and 100 dev systems,
with --dev-scan their scan-like copies too, that train_omr.py picks from EXC and DEV) and the images' layout
(umt systems --staff-bands, one for all); PACK/manifest.json is the
bundle's manifest (its vocabulary) and PACK/lmx_names.json umt's LMX token names.

Binarized engravings compress about 8x better than their anti-aliased PNGs; the trainer blurs
them back (train_omr.soften). --excerpt-share leaves out a share of the excerpts to fit a size.
The dev images are stored as they are.
"""
import argparse
import json
import lzma
import os
import pickle
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train_omr  # noqa: E402
from umt_model.bundle import load_manifest  # noqa: E402
from umt_model.targets import lmx_names  # noqa: E402
from umt_model.vocab import Layout  # noqa: E402


def encode(gray, levels):
    """gray quantized to `levels` evenly spaced values (a power of two), as (height, width, levels,
    bit planes packed 8 pixels a byte, lowest plane first): read by train_omr.read_image."""
    h, w = gray.shape
    q = np.round(gray.astype(np.float32) / (255.0 / (levels - 1))).astype(np.uint8).ravel()
    planes = b"".join(np.packbits((q >> k) & 1).tobytes() for k in range((levels - 1).bit_length()))
    return (h, w, levels, planes)


def png(gray):
    import cv2
    ok, buf = cv2.imencode(".png", gray, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise ValueError("cannot encode a PNG")
    return buf.tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--excerpts", required=True)
    ap.add_argument("--systems")
    ap.add_argument("--dev-systems")
    ap.add_argument("--dev-scan", action="store_true", help="also pack the dev systems' scan-like copies")
    ap.add_argument("--dev-excerpts", type=int, default=150)
    ap.add_argument("--dev-system-count", type=int, default=100)
    ap.add_argument("--models", default=os.path.join(os.path.dirname(HERE), "models", "default"))
    ap.add_argument("--umt", default=os.path.join(os.path.dirname(HERE), "build", "umt"))
    ap.add_argument("--levels", type=int, default=2, choices=[2, 4], help="gray levels of the training images")
    ap.add_argument("--excerpt-share", type=float, default=1.0,
                    help="share of the excerpts packed (the same share of every length; systems all)")
    ap.add_argument("--max-mb", type=float, default=0,
                    help="pack at most this size (MiB): the excerpt share is lowered until it fits (0: no bound)")
    ap.add_argument("--preset", type=int, default=0,
                    help="LZMA preset (0: 17 MB/s, 1.6 KB per excerpt; 6: 1.2 MB/s, 1.35 KB)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    names = lmx_names(args.umt)
    ids = {t: i for i, t in enumerate(names)}
    layout = Layout(load_manifest(args.models)["vocabulary"])
    examples = train_omr.Examples(args.excerpts, args.systems, ids, layout)
    bands = set(examples.staff_bands)
    devs = train_omr.dev_sets(args, ids, bands=bands)
    staff_bands = train_omr.one_layout(bands, "the excerpts and systems")
    dev = {name: [(i, png(gray), " ".join(names[t] for t in tok), d.marks.get(i)) for i, gray, tok in d.items]
           for name, d in devs.items()}
    rng = np.random.default_rng(0)
    every = []  # [kind, [image], LMX, draw, marks]: the draw decides whether an excerpt is packed at a share
    for kind in range(5):
        for paths, tok, marks in examples.by_kind[kind]:
            # the clean image only: scan-like copies are drawn on the fly
            every.append([kind, [encode(train_omr.read_image(paths[0]), args.levels)], " ".join(names[t] for t in tok),
                          float(rng.random()) if kind < 4 else -1.0, marks])
    os.makedirs(args.out, exist_ok=True)
    dst = os.path.join(args.out, "pack.pkl.xz")
    share = args.excerpt_share
    for _ in range(4):  # with --max-mb: the share shrunk until the pack fits
        train = [e[:3] + [e[4]] for e in every if e[3] < share]
        with lzma.open(dst + ".tmp", "wb", preset=args.preset) as f:
            pickle.dump({"train": train, "dev": dev, "staff_bands": staff_bands}, f, protocol=4)
        size = os.path.getsize(dst + ".tmp") / 2 ** 20
        if not args.max_mb or size <= args.max_mb:
            break
        raw = lambda es: sum(len(e[1][0][3]) for e in es)  # noqa: E731 - packed bits, a proxy of the compressed bytes
        dev_mb = sum(len(p) for items in dev.values() for _, p, _, _ in items) / 2 ** 20  # PNG: LZMA leaves it as it is
        excerpt_mb = (size - dev_mb) * raw([e for e in train if e[0] < 4]) / max(1, raw(train))
        share *= max(0.0, args.max_mb * 0.97 - (size - excerpt_mb)) / max(excerpt_mb, 1e-9)
    else:
        os.remove(dst + ".tmp")
        sys.exit(f"pack_omr: cannot fit {args.max_mb} MB (the systems and dev sets alone are near it)")
    os.replace(dst + ".tmp", dst)
    shutil.copy(os.path.join(args.models, "manifest.json"), os.path.join(args.out, "manifest.json"))
    with open(os.path.join(args.out, "lmx_names.json"), "w") as f:
        json.dump(names, f)
    counts = [sum(1 for e in train if e[0] == k) for k in range(5)]
    print(json.dumps({"train_by_kind": counts, "of": examples.counts(), "excerpt_share": round(share, 3),
                      "dev": {k: len(v) for k, v in dev.items()},
                      "mb": round(os.path.getsize(dst) / 2 ** 20, 1)}))


if __name__ == "__main__":
    main()
