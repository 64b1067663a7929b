#!/usr/bin/env python3
"""Where a bundle's I2A loses the notes' written durations: small probes trained side by side over
the frozen network on the same batches and the same target as train_omr --duration-columns (which
written durations begin in each 8-pixel column, placed by the CTC head's forced alignment), each
reading another stage: the encoder's output (linear, MLP), the pixel CNN's last stage (linear over
its rows, or two convolutions and the rows' maximum), its third and second stages (the same), and a
fresh small CNN from the pixels. Prints each probe's dev F1 (%) on the fixed dev systems every 5
minutes, and per class (reference count, precision, recall) at the end (docs/results/omr.md,
session 33).

  OPENBLAS_CORETYPE=SkylakeX scripts/checks/omr_probe_durations.py --excerpts EXC --systems SYS \
      --dev-systems DEVB [--models models/default] [--minutes 30]
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import train_omr as T  # noqa: E402
from umt_model.targets import DURATIONS, LmxEvents, ctc_forced_events, duration_columns, lmx_names  # noqa: E402
from umt_model.network import CTC_UP, Translator  # noqa: E402
from umt_model.bundle import load_manifest  # noqa: E402
from umt_model.vocab import LMX, Layout  # noqa: E402
from umt_model.data import Frames  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--models", default="models/default", help="the bundle whose I2A is probed")
ap.add_argument("--excerpts", required=True, help="excerpt set (scripts/build_excerpts.py): training batches")
ap.add_argument("--systems", help="factory build with train system images (scripts/build_dataset.py --images-only)")
ap.add_argument("--dev-systems", required=True, help="factory build of the dev split: its 100 fixed dev systems")
ap.add_argument("--minutes", type=float, default=30.0)
ap.add_argument("--umt", default="build/umt")
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
MIN = args.minutes
man = load_manifest(args.models)
layout = Layout(man["vocabulary"])
names = lmx_names(args.umt)
ids = {t: i for i, t in enumerate(names)}
events = LmxEvents(names)
model = Translator(man["vocabulary"], man["networks"]["i2a"])
info = T.init_weights(model, args.models)
assert not info["fresh"], info
model.eval()
for p in model.parameters():
    p.requires_grad_(False)
K = len(DURATIONS)
stage_out = {}
model.pixel_cnn[0].net[3].register_forward_hook(lambda m, i, o: stage_out.__setitem__("s3", o))
model.pixel_cnn[0].net[1].register_forward_hook(lambda m, i, o: stage_out.__setitem__("s2", o))
rows_cells = layout.max_height

class RowsHead(nn.Module):  # conv over a feature map, max over rows, to K per 8-px column
    def __init__(self, c, hidden=64, pool_cols=1):
        super().__init__()
        self.c1 = nn.Conv2d(c, hidden, 3, 1, 1); self.c2 = nn.Conv2d(hidden, hidden, 3, 1, 1)
        self.out = nn.Linear(hidden, K); self.pool_cols = pool_cols
        nn.init.constant_(self.out.bias, -4.0)
    def forward(self, f):
        x = F.relu(self.c2(F.relu(self.c1(f))))
        if self.pool_cols > 1:
            x = F.max_pool2d(x, (1, self.pool_cols))
        return self.out(x.amax(2).transpose(1, 2))

class Fresh(nn.Module):  # small CNN from the pixels to 8-px columns
    def __init__(self):
        super().__init__()
        ch = [1, 16, 32, 48, 64]
        layers = []
        for a, b in zip(ch, ch[1:]):
            layers += [nn.Conv2d(a, b, 3, (2, 2) if b != 64 else (2, 1), 1), nn.BatchNorm2d(b), nn.ReLU()]
        self.net = nn.Sequential(*layers)
        self.head = RowsHead(64, 64)
    def forward(self, px):
        return self.head(self.net(px))

class Lin(nn.Module):
    def __init__(self, d):
        super().__init__(); self.l = nn.Linear(d, K); nn.init.constant_(self.l.bias, -4.0)
    def forward(self, x): return self.l(x)

probes = {"enc_lin": Lin(256), "enc_mlp": nn.Sequential(nn.Linear(256, 256), nn.ReLU(), Lin(256)),
          "cnn_lin": Lin(rows_cells * 160), "cnn_conv": RowsHead(160), "s3_conv": RowsHead(128), "s2_conv": RowsHead(64, 64, 2),
          "fresh": Fresh()}
opts = {k: torch.optim.AdamW(p.parameters(), lr=2e-3) for k, p in probes.items()}

def feats(px, size):
    with torch.no_grad():
        f = model.pixel_cnn(px, size)
        b, c, r, cols = f.shape
        fr = F.pad(f, [0, 0, 0, rows_cells - r]) if r < rows_cells else f[:, :, :rows_cells]
        flat = fr.permute(0, 3, 1, 2).reshape(b, cols, -1)
        memory, mask = model.encode_pixels(px, size, torch.full((b,), LMX, dtype=torch.long))
    return {"enc": memory, "flat": flat, "cnn": f.contiguous(), "s3": stage_out["s3"].contiguous(), "s2": stage_out["s2"].contiguous(), "px": px}, mask

def run_probes(x, train_mode):
    out = {}
    for k, p in probes.items():
        p.train(train_mode)
        src = {"enc_lin": "enc", "enc_mlp": "enc", "cnn_lin": "flat", "cnn_conv": "cnn", "s3_conv": "s3", "s2_conv": "s2", "fresh": "px"}[k]
        y = p(x[src])
        out[k] = y[:, :x["enc"].size(1)]
    return out

def target(memory, mask, idl):
    at = ctc_forced_events(model, memory, mask, [events.of(i) for i in idl])
    return duration_columns(events, idl, at, memory.size(1), CTC_UP)

train = T.Examples(args.excerpts, args.systems, ids, layout)
args.dev_excerpts, args.dev_system_count, args.dev_scan = 0, 100, False
bands = set()
dev = T.dev_sets(args, ids, bands=bands)["systems"]
train.bands = T.one_layout(train.staff_bands | bands, "the training and dev images")
dev_batches = []
for group, px, size in dev.batches(torch.device("cpu"), 16):
    x, mask = feats(px, size)
    idl = [i for _, _, i in group]
    t = target(x["enc"], mask, idl)
    dev_batches.append((px, size, mask, t, idl))
print("dev ready", len(dev_batches), flush=True)
frames = Frames(layout)
rng = np.random.default_rng(7)
weights = T.stage_weights(train, 0.75)

def evaluate():
    stats = {k: [0, 0, 0] for k in probes}  # hits, predicted, wanted
    by_class = {k: np.zeros((K, 3)) for k in probes}
    with torch.no_grad():
        for px, size, mask, t, idl in dev_batches:
            x, _ = feats(px, size)
            out = run_probes(x, False)
            keep = (t >= 0) & mask[:, :, None]
            true = (t > 0) & keep
            for k, y in out.items():
                pred = (y > 0) & keep
                s = stats[k]; s[0] += int((pred & true).sum()); s[1] += int(pred.sum()); s[2] += int(true.sum())
                by_class[k][:, 0] += (pred & true).sum((0, 1)).numpy(); by_class[k][:, 1] += pred.sum((0, 1)).numpy(); by_class[k][:, 2] += true.sum((0, 1)).numpy()
    res = {}
    for k, (h, p, w) in stats.items():
        pr, rc = h / max(p, 1), h / max(w, 1)
        res[k] = round(100 * 2 * pr * rc / max(pr + rc, 1e-9), 1)
    return res, by_class

t0 = time.time(); step = 0; last = 0
losses = {k: [] for k in probes}
while True:
    el = (time.time() - t0) / 60
    if el - last >= 5 or el >= MIN:
        res, bc = evaluate(); last = el
        print(f"min {el:.1f} step {step} F1 {res} loss {({k: round(float(np.mean(v)), 4) for k, v in losses.items()})}", flush=True)
        losses = {k: [] for k in probes}
        if el >= MIN:
            for k in probes:
                rec = bc[k][:, 0] / np.maximum(bc[k][:, 2], 1); prec = bc[k][:, 0] / np.maximum(bc[k][:, 1], 1)
                print(k, {DURATIONS[c]: (int(bc[k][c, 2]), round(100 * prec[c]), round(100 * rec[c])) for c in range(K) if bc[k][c, 2] > 20}, flush=True)
            break
    px, size, target_, tf, tp, ctc, idl, cols, dense = T.make_batch(train, weights, 2e6, rng, frames, events, layout.max_height)
    px = px.float().div_(255.0)
    x, mask = feats(px, size)
    t = target(x["enc"], mask, idl)
    out = run_probes(x, True)
    keep = ((t >= 0) & mask[:, :, None]).float()
    for k, y in out.items():
        l = (F.binary_cross_entropy_with_logits(y, t.clamp_min(0), reduction="none") * keep).sum() / keep.sum().clamp_min(1)
        opts[k].zero_grad(); l.backward(); opts[k].step()
        losses[k].append(float(l))
    step += 1
