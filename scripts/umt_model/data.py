"""The translator trainer's data (scripts/train_translator.py; train_amt.py and train_omr.py use
Frames and collate_pixels): the prepared token splits of scripts/prepare_tokens.py, the frames
and positions of each modality (mirroring src/tokens/vocabulary.cpp), pixel inputs, the examples
of each task and batches grouped by length under a frame budget."""
import glob
import json
import os
import pickle

import numpy as np
import torch

from .media import read_gray
from .vocab import AUDIO, IMAGE, LMX, MIDI, N_SLOTS

TASKS = {  # name: (direction, source modality, target modality)
    "omr": ("i2a", IMAGE, LMX), "synth": ("i2a", MIDI, AUDIO), "i2a": ("i2a", IMAGE, AUDIO),
    "amt": ("a2i", AUDIO, MIDI), "engrave": ("a2i", LMX, IMAGE), "a2i": ("a2i", AUDIO, IMAGE),
}


class Frames:
    """The frames [N,4] and positions [N,2] of each modality's sequence, as src/tokens/vocabulary.cpp makes them."""

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
        ims = [255 - read_gray(path, pad16=True) for path in paths]  # read as the codec's tokens were: padded white
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
