#!/usr/bin/python3
"""Trains one direction's translator (DESIGN.md sections 4 and 7) on the prepared tokens.

  i2a: image or MIDI in; LMX or audio out  - tasks omr (image->LMX), synth (MIDI->audio),
       i2a (image->audio)
  a2i: audio or LMX in; image or MIDI out  - tasks amt (audio->MIDI), engrave (LMX->image),
       a2i (audio->image)

The paper's recipe in small: a weighted task mixture with a curriculum (near tasks first, then
synthesis/engraving, then the far tasks; --tasks picks a subset, e.g. omr alone for the ablation),
AdamW with linear warm-up and cosine decay over the run (by steps, or by training minutes with
--minutes), batches by a frame budget grouped by length, teacher-forced dev loss per task on a
fixed dev set on a schedule (learning curve in RUN/curve.jsonl), a resumable RUN/checkpoint.pt and
an optimizer-free RUN/model.pt for export. One process on a CPU, or under torchrun on several
processes / GPUs (DDP) unchanged.

  OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE scripts/train_translator.py i2a \
      --tokens /work/data/tokens-v1 --run /work/data/runs/i2a-v1 --minutes 80
"""
import argparse
import glob
import json
import math
import os
import pickle
import random
import re
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare_tokens import lmx_vocabulary, read_gray  # noqa: E402
from umt_model.bundle import load_codec, load_manifest  # noqa: E402
from umt_model import trainer  # noqa: E402
from umt_model.heap import steady_heap  # noqa: E402
from umt_model.lmx_time import Duration  # noqa: E402
from umt_model.network import ROLL_PITCHES, Translator, default_network  # noqa: E402
from umt_model.vocab import AUDIO, IMAGE, LMX, MIDI, N_SLOTS, Layout  # noqa: E402

TASKS = {  # name: (direction, source modality, target modality)
    "omr": ("i2a", IMAGE, LMX), "synth": ("i2a", MIDI, AUDIO), "i2a": ("i2a", IMAGE, AUDIO),
    "amt": ("a2i", AUDIO, MIDI), "engrave": ("a2i", LMX, IMAGE), "a2i": ("a2i", AUDIO, IMAGE),
}
# Curriculum (progress of the run -> mixture weights): near tasks, + synthesis/engraving, + far tasks.
CURRICULUM = {
    "i2a": [(0.0, {"omr": 1.0}), (0.3, {"omr": 0.6, "synth": 0.4}),
            (0.55, {"omr": 0.45, "synth": 0.25, "i2a": 0.3})],
    "a2i": [(0.0, {"amt": 1.0}), (0.3, {"amt": 0.6, "engrave": 0.4}),
            (0.55, {"amt": 0.45, "engrave": 0.25, "a2i": 0.3})],
}


# ---------------------------------------------------------------- frames (mirror src/tokens/vocabulary.cpp)

class Frames:
    def __init__(self, layout):
        self.L = layout

    def stream(self, m, ids):
        """LMX or MIDI ids -> frames [N,4], positions [N,2] (begin .. end)."""
        L = self.L
        n = len(ids) + 2
        f = np.zeros((n, N_SLOTS), np.int64)
        f[0, 0], f[-1, 0] = L.begin[m][0], L.end[m][0]
        f[1:-1, 0] = L.block_start[m] + np.asarray(ids, np.int64)
        p = np.zeros((n, 2), np.int64)
        p[:, 0] = L.pos_start[m] + np.minimum(np.arange(n), L.pos_range[m] - 1)
        return f, p

    def audio(self, codes, prefix=None):
        """codes [T,4] -> frames, positions; prefix codes (synthesis priming) go before them."""
        L = self.L
        if prefix is not None and len(prefix):
            codes = np.concatenate([prefix, codes], 0)
        n = len(codes) + 2
        f = np.zeros((n, N_SLOTS), np.int64)
        f[0], f[-1] = L.begin[AUDIO], L.end[AUDIO]
        f[1:-1] = L.block_start[AUDIO] + np.arange(N_SLOTS) * (L.codebook_size[AUDIO] + 2) + codes.astype(np.int64)
        p = np.zeros((n, 2), np.int64)
        p[:, 0] = L.pos_start[AUDIO] + np.minimum(np.arange(n), L.pos_range[AUDIO] - 1)
        return f, p

    def image(self, grids, heights):
        """grids [rows, cols, 4] joined by SEP, column by column; heights: a height token opens each."""
        L = self.L
        ps, last = L.pos_start[IMAGE], L.pos_range[IMAGE] - 1
        fr, po = [np.array([L.begin[IMAGE]], np.int64)], [np.array([[ps, 0]], np.int64)]
        col = 0
        for s, g in enumerate(grids):
            rows, cols, _ = g.shape
            if s > 0:
                fr.append(np.full((1, N_SLOTS), L.sep, np.int64))
                po.append(np.array([[ps + min(col, last), 0]], np.int64))
            if heights:
                fr.append(np.full((1, N_SLOTS), L.height(rows), np.int64))
                po.append(np.array([[ps + min(col, last), 0]], np.int64))
            codes = g.transpose(1, 0, 2).reshape(-1, N_SLOTS).astype(np.int64)  # column by column
            fr.append(L.block_start[IMAGE] + np.arange(N_SLOTS) * (L.codebook_size[IMAGE] + 2) + codes)
            c = np.repeat(np.arange(cols), rows) + col
            r = np.tile(np.arange(rows), cols)
            po.append(np.stack([ps + np.minimum(c, last), 1 + r], 1))
            col += cols
        fr.append(np.array([L.end[IMAGE]], np.int64))
        po.append(np.array([[ps + min(col, last), 0]], np.int64))
        return np.concatenate(fr), np.concatenate(po)


# ---------------------------------------------------------------- data

def load_split(tokens_dir, split):
    items = []
    for path in sorted(glob.glob(os.path.join(tokens_dir, f"{split}-*of*.pkl"))):
        with open(path, "rb") as f:
            items.extend(pickle.load(f).values())
    if not items:
        raise SystemExit(f"{tokens_dir}: no {split} token files (run scripts/prepare_tokens.py)")
    items.sort(key=lambda x: x["id"])
    return items


class Pixels:
    """An image input for the pixel stem: ink (255 - gray) of one system, or of several side by side
    with a 16-pixel gap (image->audio pairs), each padded white to multiples of 16 and top-aligned."""

    def __init__(self, paths):
        ims = [255 - read_gray(path) for path in paths]  # read as the codec's tokens were: padded white
        h = max(im.shape[0] for im in ims)
        parts = []
        for k, im in enumerate(ims):
            if k:
                parts.append(np.zeros((h, 16), np.uint8))
            parts.append(np.pad(im, ((0, h - im.shape[0]), (0, 0))))
        self.ink = np.concatenate(parts, 1)
        self.rows, self.cols = self.ink.shape[0] // 16, self.ink.shape[1] // 16

    def __len__(self):  # work in frame units, as an image's code frames
        return self.rows * self.cols


def system_images(data, split):
    """System id -> (image path, scan-like image path or None) of the data factory's dataset."""
    out = {}
    for line in open(os.path.join(data, f"{split}.jsonl")):
        r = json.loads(line)
        if r.get("kind") == "system":
            out[r["id"]] = (os.path.join(data, r["image"]),
                            os.path.join(data, r["image_scan"]) if r.get("image_scan") else None)
    return out


class Tasks:
    """Draws (source frames, source positions, target frames, target positions) per task; with
    images (system id -> paths, for the pixel stem) image sources are Pixels instead of frames."""

    def __init__(self, items, layout, eval_audio=False, images=None):
        self.images = images
        self.F = Frames(layout)
        self.L = layout
        self.eval_audio = eval_audio  # dev: the evaluation rendering (other SoundFont + reverb)
        ml = layout.max_length
        self.max_src = {LMX: ml[LMX], MIDI: ml[MIDI], IMAGE: ml[IMAGE], AUDIO: ml[AUDIO]}
        self.systems = [(i, s) for i, it in enumerate(items) for s in range(len(it["systems"]))]
        self.windows = [(i, w) for i, it in enumerate(items) for w in range(len(it["windows"]))]
        self.pairs = [(i, p) for i, it in enumerate(items) for p in range(len(it["pairs"]))]
        self.items = items

    def audio_of(self, it):
        return it["audio_eval"] if self.eval_audio and "audio_eval" in it else it["audio"]

    def span(self, it, frames):
        """(all audio codes of the score, the codes of frames [f0, f1)), or None when too short."""
        audio = self.audio_of(it)
        f0, f1 = frames
        codes = audio[f0:min(f1, len(audio))]
        return (audio, codes) if len(codes) >= 10 else None

    def sample(self, task, rng):
        for _ in range(20):
            ex = self._try(task, rng)
            if ex is not None:
                return ex
        raise RuntimeError(f"{task}: no sample fits the model's lengths")

    def fits(self, sm, src, tm, tgt):
        if isinstance(src[0], Pixels):
            ok = src[0].rows <= self.L.max_height and src[0].cols <= self.L.pos_range[IMAGE]
            return ok and len(tgt[0]) <= self.L.max_length[tm]
        return len(src[0]) <= self.L.max_length[sm] and len(tgt[0]) <= self.L.max_length[tm]

    def pixels(self, systems, scan):
        paths = [self.images[sy["id"]][1 if scan else 0] for sy in systems]
        return Pixels(paths), None

    def _try(self, task, rng):
        F = self.F
        if task in ("omr", "engrave"):
            i, s = self.systems[rng.randrange(len(self.systems))]
            sy = self.items[i]["systems"][s]
            if task == "omr":
                scan = "scan" in sy and rng.random() < 0.5
                src = self.pixels([sy], scan) if self.images else F.image([sy["scan" if scan else "image"]], False)
                tgt = F.stream(LMX, sy["lmx"])
                return (src, tgt) if self.fits(IMAGE, src, LMX, tgt) else None
            src, tgt = F.stream(LMX, sy["lmx"]), F.image([sy["image"]], True)
            return (src, tgt) if self.fits(LMX, src, IMAGE, tgt) else None
        if task in ("amt", "synth"):
            i, w = self.windows[rng.randrange(len(self.windows))]
            it = self.items[i]
            win = it["windows"][w]
            got = self.span(it, win["frames"])
            if got is None:
                return None
            audio, codes = got
            f0 = win["frames"][0]
            if task == "amt":
                src, tgt = F.audio(codes), F.stream(MIDI, win["midi"])
                return (src, tgt) if self.fits(AUDIO, src, MIDI, tgt) else None
            # synthesis continues from the last second of the previous window, as umt synth does
            prime = audio[max(0, f0 - 50):f0] if f0 > 0 and rng.random() < 0.7 else None
            src, tgt = F.stream(MIDI, win["midi"]), F.audio(codes, prime)
            return (src, tgt) if self.fits(MIDI, src, AUDIO, tgt) else None
        i, p = self.pairs[rng.randrange(len(self.pairs))]
        it = self.items[i]
        pair = it["pairs"][p]
        got = self.span(it, pair["frames"])
        if got is None:
            return None
        codes = got[1]
        grids = [it["systems"][s]["image"] for s in pair["systems"]]
        if task == "i2a":
            scan = rng.random() < 0.3 and all("scan" in it["systems"][s] for s in pair["systems"])
            if scan:
                grids = [it["systems"][s]["scan"] for s in pair["systems"]]
            if self.images:
                src = self.pixels([it["systems"][s] for s in pair["systems"]], scan)
            else:
                src = F.image(grids, False)
            tgt = F.audio(codes)
            return (src, tgt) if self.fits(IMAGE, src, AUDIO, tgt) else None
        src, tgt = F.audio(codes), F.image(grids, True)
        return (src, tgt) if self.fits(AUDIO, src, IMAGE, tgt) else None


def collate(examples, target):
    if isinstance(examples[0][0][0], Pixels):
        return collate_pixels(examples, target)
    b = len(examples)
    s = max(len(e[0][0]) for e in examples)
    t = max(len(e[1][0]) for e in examples)
    sf = torch.zeros(b, s, N_SLOTS, dtype=torch.long)
    sp = torch.zeros(b, s, 2, dtype=torch.long)
    tf = torch.zeros(b, t, N_SLOTS, dtype=torch.long)
    tp = torch.zeros(b, t, 2, dtype=torch.long)
    for k, ((f, p), (g, q)) in enumerate(examples):
        sf[k, :len(f)] = torch.from_numpy(f)
        sp[k, :len(p)] = torch.from_numpy(p)
        tf[k, :len(g)] = torch.from_numpy(g)
        tp[k, :len(q)] = torch.from_numpy(q)
    return sf, sp, torch.full((b,), target, dtype=torch.long), tf, tp


def collate_pixels(examples, target):
    """Pixel sources: ink [B,1,H,W] in 0..1 (zero padding) and sizes [B,2] in place of frames / positions."""
    b = len(examples)
    h = max(e[0][0].ink.shape[0] for e in examples)
    w = max(e[0][0].ink.shape[1] for e in examples)
    t = max(len(e[1][0]) for e in examples)
    px = torch.zeros(b, 1, h, w, dtype=torch.uint8)
    size = torch.zeros(b, 2, dtype=torch.long)
    tf = torch.zeros(b, t, N_SLOTS, dtype=torch.long)
    tp = torch.zeros(b, t, 2, dtype=torch.long)
    for k, ((p, _), (g, q)) in enumerate(examples):
        px[k, 0, :p.ink.shape[0], :p.ink.shape[1]] = torch.from_numpy(p.ink)
        size[k, 0], size[k, 1] = p.rows, p.cols
        tf[k, :len(g)] = torch.from_numpy(g)
        tp[k, :len(q)] = torch.from_numpy(q)
    return px.float() / 255.0, size, torch.full((b,), target, dtype=torch.long), tf, tp


def cost(e):
    """Work of one example in frame units: RVQ target frames run the sub-decoder over 4 slots."""
    (f, _), (g, _) = e
    rvq = g[0, 1] != 0  # a begin frame with 4 ids
    if isinstance(f, Pixels):
        return len(f) * 2 + len(g) * (3 if rvq else 1)  # the CNN costs about one more encoder pass
    return len(f) + len(g) * (3 if rvq else 1)


def make_batch(tasks, task, budget, rng):
    """Examples of one task, grouped by length: draw a pool, sort it, take a run that fits budget."""
    pool = [tasks.sample(task, rng) for _ in range(12)]
    pool.sort(key=cost)
    start = rng.randrange(len(pool))
    batch = [pool[start]]
    for e in pool[start + 1:] + pool[:start][::-1]:
        if (len(batch) + 1) * max(cost(x) for x in batch + [e]) > budget:
            break
        batch.append(e)
    return collate(batch, TASKS[task][2])


# MIDI token values inside the MIDI block (include/umt/tokens/midi_tokens.hpp)
PITCH0, VELOCITY0, PROGRAM0 = 1001, 1129, 1257  # shifts are 0..1000
TIE, DRUM = PROGRAM0 + 128, PROGRAM0 + 129


def piano_roll(src, tgt, layout, ticks_per_frame):
    """An AMT batch's targets as an onsets-and-frames roll at the audio input positions:
    [B,S,2*128] (onset keys, then sounding keys; -1 at begin, end and padding), read from the MIDI
    tokens (tie section = sounding from the window start; velocity 0 = offsets; drum hits skipped)."""
    b, s = src.shape[:2]
    roll = torch.full((b, s, 2 * ROLL_PITCHES), -1.0)
    lengths = (src[:, :, 0] != 0).sum(1) - 2  # audio code frames
    start, size = layout.block_start[MIDI], layout.codebook_size[MIDI]
    for k in range(b):
        n = int(lengths[k])
        r = np.zeros((n, 2 * ROLL_PITCHES), np.float32)
        tick, vel, tie, drum, sounding = 0, 0, True, False, {}
        for v in (tgt[k, 1:, 0] - start).tolist():
            if not 0 <= v < size:  # end (or PAD)
                break
            if v < PITCH0:
                tick = v
            elif v < VELOCITY0:
                p, f = v - PITCH0, min(int(tick // ticks_per_frame), n)
                if tie:
                    sounding[p] = 0
                elif drum:
                    continue
                elif vel > 0:
                    if f < n:
                        r[f, p] = 1.0
                    sounding.setdefault(p, f)
                elif p in sounding:
                    f0 = sounding.pop(p)
                    r[f0:max(f, f0 + 1), ROLL_PITCHES + p] = 1.0
            elif v < PROGRAM0:
                vel = v - VELOCITY0
            elif v < TIE:
                drum = False
            elif v == TIE:
                tie = False
            else:
                drum = True
        for p, f0 in sounding.items():
            r[f0:, ROLL_PITCHES + p] = 1.0
        roll[k, 1:1 + n] = torch.from_numpy(r)
    return roll




class LmxEvents:
    """The CTC targets of an OMR batch: each system's visible note heads and rests in reading order
    (by measure, then onset within the measure from the LMX durations, then pitch; grace notes just
    before their onset; invisible and
    backup/forward events keep time only), and a barline class after each measure.
    Classes: 0 blank, 1 barline, 2 rest, 3.. the LMX pitch tokens C0..B9."""

    def __init__(self, names, layout=None):
        self.names = names
        self.start, self.size = (layout.block_start[LMX], layout.codebook_size[LMX]) if layout else (0, len(names))
        steps = "CDEFGAB"
        pitches = [n for n in names if re.fullmatch(r"[A-G][0-9]", n)]
        pitches.sort(key=lambda n: int(n[1]) * 7 + steps.index(n[0]))
        self.pitch_class = {n: 3 + k for k, n in enumerate(pitches)}
        self.classes = 3 + len(pitches)
        self.labels = ["-", "|", "rest"] + pitches

    def label(self, c):
        return self.labels[c]

    def of(self, ids):
        """LMX ids (one system) -> class ids in reading order."""
        out, measure = [], []
        t = last_onset = 0.0
        d = Duration()
        ev = None  # (kind, grace, chord, hidden) of the event being read; its duration follows it

        def flush():
            nonlocal t, last_onset
            if ev is None:
                return
            kind, grace, chord, hidden = ev
            q = d.quarters()
            if kind == "backup":
                t -= q
            elif kind == "forward":
                t += q
            else:
                onset = last_onset if chord else t - 0.001 if grace else t  # a grace note reads first
                if not (grace or chord):
                    t += q
                last_onset = onset
                if not hidden:
                    measure.append((round(onset, 6), 2 if kind == "rest" else self.pitch_class[kind]))

        prefix = {"grace": False, "chord": False, "hidden": False}
        for name in (self.names[i] for i in ids):
            if name == "measure":
                flush()
                ev = None
                if measure or out:
                    out.extend(c for _, c in sorted(measure))
                    out.append(1)
                measure, t, last_onset = [], 0.0, 0.0
            elif name in ("print-object:no", "grace", "chord"):
                prefix["hidden" if name == "print-object:no" else name] = True
            elif name in ("rest", "backup", "forward") or name in self.pitch_class:
                flush()
                ev = (name, prefix["grace"], prefix["chord"], prefix["hidden"])
                prefix = {"grace": False, "chord": False, "hidden": False}
                d.start()
            else:
                d.read(name)
        flush()
        if measure:
            out.extend(c for _, c in sorted(measure))
            out.append(1)
        return out

    def batch(self, tgt):
        """Target frames [B,T,4] of an LMX batch -> CTC targets [B,L] (0 = padding)."""
        rows = []
        for k in range(tgt.size(0)):
            ids = []
            for v in (tgt[k, 1:, 0] - self.start).tolist():
                if not 0 <= v < self.size:
                    break
                ids.append(v)
            rows.append(self.of(ids))
        out = torch.zeros(len(rows), max(1, max(len(r) for r in rows)), dtype=torch.long)
        for k, r in enumerate(rows):
            out[k, :len(r)] = torch.tensor(r, dtype=torch.long)
        return out


def lmx_names(umt):
    """The LMX tokens in umt's order (prepare_tokens.py's vocabulary, as names)."""
    try:
        return list(lmx_vocabulary(umt))
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"{umt}: cannot list the LMX vocabulary ({e}); build umt or give --umt")


# ---------------------------------------------------------------- schedule

def mixture(direction, progress, only, start=0.0):
    """The task weights at this progress of the run; the curriculum begins at its point `start`."""
    point = start + (1 - start) * min(progress, 1.0)
    weights = {}
    for at, w in CURRICULUM[direction]:
        if point >= at:
            weights = w
    if only:
        weights = {t: weights.get(t, 0.0) for t in only}
        if sum(weights.values()) == 0:  # the subset's tasks are all in later phases: run them anyway
            weights = {t: 1.0 for t in only}
    return {t: w for t, w in weights.items() if w > 0}


def learning_rate(args, step, progress):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


# ---------------------------------------------------------------- main

def dist_setup(device_arg):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(device_arg)
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world, rank, device


@torch.no_grad()
def dev_losses(model, dev_sets, device, events=None):
    """Dev loss per task (token loss, nats per token); with events, also the OMR batches' CTC loss
    (nats per target class) as "omr_ctc"."""
    model.eval()
    out = {}
    for task, batches in dev_sets.items():
        read = events is not None and TASKS[task][1:] == (IMAGE, LMX)
        tot, n, ctc = 0.0, 0, 0.0
        for b in batches:
            b = [x.to(device) for x in b]
            loss = model(*b)
            tot += float(loss) * len(b[0])
            n += len(b[0])
            if read:
                memory, mask = model.encode_source(b[0], b[1], b[2])
                ctc += float(model.ctc_loss(memory, mask, events.batch(b[3]).to(device))) * len(b[0])
        out[task] = round(tot / max(n, 1), 4)
        if read:
            out[task + "_ctc"] = round(ctc / max(n, 1), 4)
    model.train()
    return out


TRAINING_HEADS = ("aux_bag", "aux_roll", "aux_ctc")


def without_heads(net):
    """A network without its training heads and input stem: what --init can carry over."""
    return {k: v for k, v in net.items() if k not in TRAINING_HEADS + ("image_stem",)}


def load_with_fresh_heads(model, weights, where):
    """Loads weights into model; parts the source lacks may only be new input-side parts
    (codec vectors, the pixel or mel stem, the frame head) and training heads, which start fresh; a stem the model
    lacks (the column projection of a token stem, when moving to pixels) is dropped."""
    weights = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
    own = model.state_dict()
    weights = {k: v for k, v in weights.items() if k in own or not k.startswith("col_proj")}
    fresh = {k: v for k, v in own.items()
             if k.startswith(("code_", "bag.", "roll.", "ctc.", "pixel_", "mel_stem.", "frame_head.")) and k not in weights}
    missing, unexpected = model.load_state_dict(dict(weights, **fresh), strict=False)
    if missing or unexpected:
        raise SystemExit(f"{where}: another network (missing {missing}, unexpected {unexpected})")


def main():
    steady_heap()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("direction", choices=["i2a", "a2i"])
    ap.add_argument("--tokens", required=True, help="folder of scripts/prepare_tokens.py")
    ap.add_argument("--run", required=True, help="run folder (checkpoint.pt, model.pt, curve.jsonl)")
    ap.add_argument("--models", default="models/default", help="bundle whose vocabulary and codecs the tokens use")
    ap.add_argument("--tasks", default="", help="comma-separated subset of the direction's tasks (default: all)")
    ap.add_argument("--steps", type=int, default=0, help="run length in steps (cosine schedule over them)")
    ap.add_argument("--minutes", type=float, default=0, help="run length in training minutes (instead of --steps)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--budget", type=int, default=6000, help="frames per batch (per process)")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--encoder-layers", type=int, default=3)
    ap.add_argument("--decoder-layers", type=int, default=3)
    ap.add_argument("--image-stem", choices=["frames", "columns", "pixels"], default="columns",
                    help="image inputs: one encoder position per code frame, or per grid column (default), or "
                         "a CNN over the system's pixels, one position per 16-pixel column (needs --data)")
    ap.add_argument("--data", help="the data factory's dataset folder (system images, for --image-stem pixels)")
    ap.add_argument("--bag-loss", type=float, default=0.0,
                    help="weight of the auxiliary bag-of-LMX-tokens loss on the encoder output (OMR batches; "
                         "nats per example summed over the LMX vocabulary, ~40 at the prior: 0.05 is a fair weight)")
    ap.add_argument("--roll-loss", type=float, default=0.0,
                    help="weight of the auxiliary onsets-and-frames loss at each audio input position (AMT "
                         "batches; nats per position summed over 2x128 keys, ~5-10 at the prior: 0.1 is fair)")
    ap.add_argument("--ctc-loss", type=float, default=0.0,
                    help="weight of the auxiliary CTC loss over image columns (OMR batches): the note heads, "
                         "rests and barlines left to right; nats per target class, ~4 at the prior")
    ap.add_argument("--token-loss", type=float, default=1.0,
                    help="weight of the decoder's token loss; 0 trains the encoder on the auxiliary losses alone "
                         "(CTC pretraining of the image stem: --tasks omr --ctc-loss 1 --token-loss 0)")
    ap.add_argument("--umt", default="build/umt", help="the umt binary (for the LMX vocabulary of --ctc-loss)")
    ap.add_argument("--code-vectors", action="store_true",
                    help="image/audio codes also embed through the codecs' codebook vectors (learned projection)")
    ap.add_argument("--input-dropout", type=float, default=0.0,
                    help="blank this share of the decoder's teacher-forced LMX/MIDI inputs (not begin), so it "
                         "cannot write from its language model alone")
    ap.add_argument("--init", help="continue from an earlier run's model.pt / checkpoint.pt, or from a bundle folder's "
                    "translator (e.g. models/default), with a new schedule; the model card adds up the steps")
    ap.add_argument("--curriculum-from", type=float, default=0.0,
                    help="start the task curriculum at this point of it (0..1; the learning-rate schedule still "
                         "starts at 0): a continuation of a model that already did its near-task phase")
    ap.add_argument("--eval-every", type=float, default=10, help="minutes between dev evaluations")
    ap.add_argument("--save-every", type=float, default=5, help="minutes between checkpoints")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if bool(args.steps) == bool(args.minutes):
        raise SystemExit("give --steps or --minutes")
    world, rank, device = dist_setup(args.device)
    torch.set_num_threads(args.threads)
    # Debian's torch 1.13: with oneDNN, GELU's backward is wrong for a channels-last strided
    # gradient — the pixel stem's, whose output is permuted into columns — and so is every stem
    # weight gradient behind it (up to 1e23, inf, NaN: scripts/checks/check_onednn_grad.py); clipped with
    # the rest, that froze the whole model. The native kernels are exact.
    torch.backends.mkldnn.enabled = False
    only = [t for t in args.tasks.split(",") if t]
    for t in only:
        if t not in TASKS or TASKS[t][0] != args.direction:
            raise SystemExit(f"--tasks: {t} is not a task of {args.direction}")

    man = load_manifest(args.models)
    vocab = man["vocabulary"]
    layout = Layout(vocab)
    events = None
    if args.ctc_loss > 0:
        names = lmx_names(args.umt)
        if len(names) != layout.codebook_size[LMX]:
            raise SystemExit(f"{args.umt}: {len(names)} LMX tokens; the bundle's vocabulary has {layout.codebook_size[LMX]}")
        events = LmxEvents(names, layout)
    net = default_network(args.width, args.heads, args.encoder_layers, args.decoder_layers,
                          image_stem=args.image_stem, aux_bag=args.bag_loss > 0,
                          code_vectors=args.code_vectors, aux_roll=args.roll_loss > 0,
                          aux_ctc=events.classes if events else 0)
    os.makedirs(args.run, exist_ok=True)
    ck_path = os.path.join(args.run, "checkpoint.pt")
    model = Translator(vocab, net)
    if args.code_vectors:
        model.set_code_vectors(layout, {IMAGE: load_codec(args.models, "image").vq.codebooks,
                                        AUDIO: load_codec(args.models, "audio").vq.codebooks})
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=args.weight_decay)
    state = {"step": 0, "seconds": 0.0, "samples": {}, "frames": 0}
    init_info = None
    resumed = trainer.resume(ck_path, model, opt, net, announce=rank == 0)
    if resumed:
        state, init_info = resumed
    elif args.init and os.path.isdir(args.init):  # a bundle: continue from its shipped translator
        bman = load_manifest(args.init)
        shipped = bman.get("networks", {}).get(args.direction, bman["network"])
        if bman["vocabulary"] != vocab or without_heads(shipped) != without_heads(net):
            raise SystemExit(f"{args.init}: another vocabulary or network than this run's")
        scripted = torch.jit.load(os.path.join(args.init, bman["translators"][args.direction]))
        load_with_fresh_heads(model, scripted.state_dict(), args.init)
        rec = bman.get("training", {}).get(args.direction, {})
        init_info = {"from": args.init, "steps": rec.get("total_steps", rec.get("step", 0)),
                     "samples": rec.get("samples", {})}
    elif args.init:
        ck = torch.load(args.init, map_location="cpu")
        load_with_fresh_heads(model, ck["model"], args.init)
        init_info = {"from": args.init, "steps": ck["state"]["step"] + (ck.get("init") or {}).get("steps", 0),
                     "samples": ck["state"]["samples"]}
    raw_model = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel
        # slot_masks is a constant bool buffer (the same on every rank); gloo cannot broadcast bools;
        # code_vectors is constant too (every rank reads the same codecs): no broadcast each step
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, ["slot_masks", "code_vectors"])
        # a batch of one task leaves other tasks' parts unused (the column stem, the bag and roll heads)
        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                        find_unused_parameters=True)

    audio = man["modalities"]["audio"]
    ticks_per_frame = audio["hop_samples"] / audio["sample_rate"] / 0.01  # MIDI shifts are 10 ms ticks
    pixels = args.image_stem == "pixels" and args.direction == "i2a"
    if pixels and not args.data:
        raise SystemExit("--image-stem pixels reads the system images: give --data")
    train = Tasks(load_split(args.tokens, "train"), layout, images=system_images(args.data, "train") if pixels else None)
    dev = Tasks(load_split(args.tokens, "dev"), layout, eval_audio=True,
                images=system_images(args.data, "dev") if pixels else None)
    tasks_all = only or [t for t, v in TASKS.items() if v[0] == args.direction]
    drng = random.Random(1234)
    dev_sets = {t: [make_batch(dev, t, args.budget, drng) for _ in range(6)] for t in tasks_all}
    rng = random.Random(args.seed * 1000 + rank + state["step"])
    torch.manual_seed(args.seed * 1000 + rank + state["step"])
    curve = open(os.path.join(args.run, "curve.jsonl"), "a") if rank == 0 else None

    def progress():
        if args.steps:
            return state["step"] / args.steps
        return state["seconds"] / (60 * args.minutes)

    def save():
        if rank != 0:
            return
        info = {"direction": args.direction, "tasks": tasks_all, "step": state["step"], "samples": state["samples"],
                "minutes": round(state["seconds"] / 60, 1), "frames": state["frames"], "world_size": world,
                "lr": args.lr, "budget_frames": args.budget, "curriculum": CURRICULUM[args.direction],
                "curriculum_from": args.curriculum_from,
                "input_dropout": args.input_dropout, "bag_loss": args.bag_loss,
                "roll_loss": args.roll_loss, "ctc_loss": args.ctc_loss, "token_loss": args.token_loss,
                "image_stem": args.image_stem,
                "skipped_steps": state.get("skipped", 0)}
        body = {"model": raw_model.state_dict(), "network": net, "vocabulary": vocab, "state": state,
                "init": init_info, "training": info}
        torch.save(dict(body, optimizer=opt.state_dict()), ck_path + ".tmp")
        os.replace(ck_path + ".tmp", ck_path)
        body["model"] = {k: v.half() if v.is_floating_point() else v for k, v in body["model"].items()}
        torch.save(body, os.path.join(args.run, "model.pt.tmp"))
        os.replace(os.path.join(args.run, "model.pt.tmp"), os.path.join(args.run, "model.pt"))

    last_save = last_eval = time.time()
    window_loss = {}
    t_prev = time.time()
    model.train()
    while True:
        stop = progress() >= 1.0
        if world > 1:
            import torch.distributed as dist
            flag = torch.tensor([1.0 if stop else 0.0], device=device)
            dist.all_reduce(flag)
            stop = flag.item() > 0
        if stop:
            break
        mix = mixture(args.direction, progress(), only, args.curriculum_from)
        names = sorted(mix)
        # every rank draws the same task (one task per step); each rank draws its own examples
        task = random.Random(args.seed * 1000003 + state["step"]).choices(names, weights=[mix[t] for t in names])[0]
        batch = [x.to(device) for x in make_batch(train, task, args.budget, rng)]
        lr = learning_rate(args, state["step"], progress())
        for g in opt.param_groups:
            g["lr"] = lr
        bag = args.bag_loss if TASKS[task][1:] == (IMAGE, LMX) else 0.0
        tgt_in = None
        if args.input_dropout > 0 and batch[2][0] in (LMX, MIDI):
            tgt_in = batch[3].clone()
            drop = torch.rand(tgt_in.shape[:2], device=device) < args.input_dropout
            drop[:, 0] = False
            tgt_in[:, :, 0] = tgt_in[:, :, 0].masked_fill(drop, 0)  # PAD embeds to zero
        roll = None
        if args.roll_loss > 0 and TASKS[task][1:] == (AUDIO, MIDI):
            roll = piano_roll(batch[0], batch[3], layout, ticks_per_frame).to(device)
        ctc = None
        if events is not None and TASKS[task][1:] == (IMAGE, LMX):
            ctc = events.batch(batch[3]).to(device)
        loss = model(*batch, tgt_in, bag, roll, args.roll_loss, ctc, args.ctc_loss, args.token_loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # gradients are all-reduced: ranks agree
        if not torch.isfinite(norm):  # a non-finite step is skipped (and its batch kept for a look), not taken
            state["skipped"] = state.get("skipped", 0) + 1
            print(f"step {state['step']}: non-finite loss {float(loss):.3f} / gradient ({task}); skipped",
                  file=sys.stderr, flush=True)
            torch.save([x.cpu() for x in batch], os.path.join(args.run, f"nonfinite-rank{rank}.pt"))
            opt.zero_grad(set_to_none=True)
        else:
            opt.step()
        now = time.time()
        state["seconds"] += now - t_prev
        t_prev = now
        state["step"] += 1
        state["samples"][task] = state["samples"].get(task, 0) + len(batch[0]) * world
        state["frames"] += int((batch[0][:, :, 0] != 0).sum() + (batch[3][:, :, 0] != 0).sum()) * world
        if math.isfinite(float(loss)):
            window_loss.setdefault(task, []).append(float(loss))
        if rank == 0 and state["step"] % 50 == 0:
            msg = " ".join(f"{t} {np.mean(v):.3f}" for t, v in sorted(window_loss.items()))
            print(f"step {state['step']} {state['seconds'] / 60:.1f} min lr {lr:.2e} loss {msg}", file=sys.stderr,
                  flush=True)
            window_loss = {}
        if now - last_eval > 60 * args.eval_every:
            d = dev_losses(raw_model, dev_sets, device, events)
            if rank == 0:
                curve.write(json.dumps({"step": state["step"], "minutes": round(state["seconds"] / 60, 2),
                                        "samples": dict(state["samples"]), "dev_loss": d}) + "\n")
                curve.flush()
                print(f"dev {d}", file=sys.stderr, flush=True)
            last_eval = time.time()
            t_prev = time.time()  # evaluation time is not training time
        if now - last_save > 60 * args.save_every:
            save()
            last_save = time.time()
            t_prev = time.time()
    d = dev_losses(raw_model, dev_sets, device, events)
    if rank == 0:
        curve.write(json.dumps({"step": state["step"], "minutes": round(state["seconds"] / 60, 2),
                                "samples": dict(state["samples"]), "dev_loss": d, "final": True}) + "\n")
        print(f"done: step {state['step']}, dev {d}", file=sys.stderr)
    save()


if __name__ == "__main__":
    main()
