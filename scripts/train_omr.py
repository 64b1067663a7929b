#!/usr/bin/python3
"""Trains the I2A translator's reading (issue 18): OMR alone, pixels in through a residual column
CNN (umt_model/seeing.py, one encoder position per 8-pixel column), a CTC head on the encoder over
the note heads in reading order, and the unified decoder writing LMX; the data starts easy and
never runs out.

  OPENBLAS_CORETYPE=SkylakeX scripts/train_omr.py --excerpts EXC --dev-systems DEV --run RUN \
      --minutes 60 [--init models/default] [--systems DATA] [--threads 2]

EXC is an excerpt set of scripts/build_excerpts.py (1..4 measures engraved on their own by
verovio and cut by `umt systems`); chunks that appear while the run goes on are picked up. DATA,
when given, is a data factory build with system images (`scripts/build_dataset.py
--images-only`) whose full systems join the curriculum; DEV is such a build of the dev split, of
which 100 systems spread over the pieces (as scripts/eval_paper.py picks them) are the fixed dev
set, and EXC's dev chunks give 150 fixed dev excerpts. The curriculum moves with the run's
progress from one- and two-measure excerpts to all lengths and then (with DATA) to full systems.
Every image is augmented as it is drawn: scan-like degradation (paper, lighting, rotation, blur,
noise, binarization), horizontal stretch (justified systems are wider than an excerpt's natural
spacing) and a shift of the 16-pixel grid.

Resumable (RUN/checkpoint.pt); the curve (minutes, samples, dev SER of greedy decoding on the
excerpts and the systems) goes to RUN/curve.jsonl; RUN/model.pt and RUN/best.pt (fp16, no
optimizer state) are what scripts/export_translators.py --i2a ships. The schedule is the
translator trainer's (AdamW, warm-up, cosine over --minutes). --init starts from a bundle's I2A
or a run's model.pt: encoder layers, decoder and embeddings carry over, a stem of another shape
starts fresh.
"""
import argparse
import contextlib
import glob
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from datafactory.images import scan_augment  # noqa: E402
from umt_model.data import Frames  # noqa: E402
from umt_model.targets import DURATIONS, HeadMap, LmxEvents, ctc_best_paths, ctc_forced_events, duration_columns, lmx_names, padded_rows  # noqa: E402
from umt_model.bundle import load_manifest  # noqa: E402
from umt_model.guide import AttentionRecorder, aligned_columns, column_targets, guided_loss, reading_places  # noqa: E402
from umt_model import trainer  # noqa: E402
from umt_model.heap import steady_heap  # noqa: E402
from umt_model.media import read_gray  # noqa: E402
from umt_model.network import CTC_UP, Translator, default_network, sinusoids  # noqa: E402
from umt_model.vocab import LMX, Layout  # noqa: E402

CURRICULUM = [  # progress -> weights of excerpts of 1, 2, 3, 4 measures and of full systems
    (0.0, [0.45, 0.35, 0.15, 0.05, 0.0]),
    (0.25, [0.2, 0.3, 0.3, 0.2, 0.0]),
    (0.5, [0.1, 0.2, 0.25, 0.25, 0.2]),
    (0.75, [0.05, 0.15, 0.2, 0.25, 0.35]),
    (0.875, [0.05, 0.1, 0.1, 0.15, 0.6]),
]


def curriculum(progress, have_systems):
    w = np.array(CURRICULUM[0][1], float)
    for at, weights in CURRICULUM:
        if progress >= at:
            w = np.array(weights, float)
    if not have_systems:
        w[4] = 0.0
    return w / w.sum()


class Ink:
    """One image for collate_ink: ink = 255 - gray, padded to multiples of 16."""

    def __init__(self, gray):
        h, w = gray.shape
        gray = np.pad(gray, ((0, -h % 16), (0, -w % 16)), constant_values=255)
        self.ink = 255 - gray
        self.rows, self.cols = self.ink.shape[0] // 16, self.ink.shape[1] // 16

    def __len__(self):
        return self.rows * self.cols


def read_image(source):
    """A grayscale image from a path, a pack's PNG bytes or a pack's quantized image (height, width,
    levels, bit planes: scripts/pack_omr.py)."""
    if isinstance(source, str):
        return read_gray(source)
    if isinstance(source, tuple):
        h, w, levels, planes = source
        bits = np.unpackbits(np.frombuffer(planes, np.uint8))
        n = h * w
        q = np.zeros(n, np.uint8)
        for k in range((levels - 1).bit_length()):
            q |= bits[k * ((n + 7) // 8) * 8:][:n] << k
        return (q.astype(np.float32) * (255.0 / (levels - 1))).round().clip(0, 255).astype(np.uint8).reshape(h, w)
    import cv2
    img = cv2.imdecode(np.frombuffer(source, np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError("a packed image cannot be decoded")
    return img


def soften(gray, rng):
    """A quantized image's edges blurred back to an engraving's anti-aliasing (drawn sigma)."""
    import cv2
    return cv2.GaussianBlur(gray, (0, 0), float(rng.uniform(0.35, 0.75)))


def augment(gray, rng, bands=0):
    """A drawn variant of a clean system image (never of the dev images), and where it moved the
    image's x: (scale, shift), x' = x * scale + shift (the slight rotation of a scan-like copy aside).
    bands: the images' band layout (umt systems --staff-bands), where a row is a staff position: the
    image moves by at most a pixel up or down (as a staff line found on a page may), its height kept."""
    import cv2
    scale = 1.0
    if rng.random() < 0.5:  # justified systems are spread wider (or tighter) than natural spacing
        f = float(rng.uniform(0.85, 1.3))
        w = max(16, int(round(gray.shape[1] * f)))
        scale = w / gray.shape[1]
        gray = cv2.resize(gray, (w, gray.shape[0]), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
    if rng.random() < 0.5:
        gray, _ = scan_augment(gray, rng)
    dx, dy = int(rng.integers(0, 16)), int(rng.integers(0, 8))
    if bands:
        dy = int(rng.integers(-1, 2))
        if dy:
            gray = np.concatenate([np.full((dy, gray.shape[1]), 255, np.uint8), gray[:-dy]]) if dy > 0 else \
                np.concatenate([gray[-dy:], np.full((-dy, gray.shape[1]), 255, np.uint8)])
        dy = 0
    if dx or dy:
        out = np.full((gray.shape[0] + dy, gray.shape[1] + dx), 255, np.uint8)
        out[dy:, dx:] = gray
        gray = out
    return gray, scale, float(dx)


class Examples:
    """Training examples by kind (0..3: excerpts of 1..4 measures, 4: full systems): image path and
    LMX ids, and where the engraver put the note heads and rests when the record says (HeadMap);
    excerpt chunks and factory scores finished after the start are picked up by refresh()."""

    def __init__(self, excerpts, systems, ids, layout, pack=None):
        self.excerpts, self.systems, self.ids, self.layout = excerpts, systems, ids, layout
        self.by_kind = [[] for _ in range(5)]
        self.seen = set()
        self.skipped = 0
        self.staff_bands = set()  # the image layouts of the records (umt systems --staff-bands)
        self.bands = 0  # the one layout of them all, as the trainer checked it (augment)
        if pack is not None:  # a pack's examples: [kind, [quantized image], LMX, marks] (scripts/pack_omr.py)
            for kind, images, lmx, *marks in pack:  # packs made before the marks have three fields
                self._add(kind, images, lmx, marks[0] if marks else None)
            self.excerpts = None
            return
        self.refresh()

    def _add(self, kind, paths, lmx, marks=None):
        toks = lmx.split()
        if any(t not in self.ids for t in toks) or len(toks) + 2 > self.layout.max_length[LMX]:
            self.skipped += 1
            return
        self.by_kind[kind].append((paths, [self.ids[t] for t in toks], marks))

    def refresh(self):
        if self.excerpts is None:
            return
        for path in sorted(glob.glob(os.path.join(self.excerpts, "chunks", "train", "*.jsonl"))):
            if path in self.seen:
                continue
            self.seen.add(path)
            for line in open(path):
                r = json.loads(line)
                self.staff_bands.add(r.get("staff_bands", 0))
                self._add(min(r["measures"], 4) - 1, [os.path.join(self.excerpts, r["image"])], r["lmx"], marks_of(r))
        if not self.systems:
            return
        for path in sorted(glob.glob(os.path.join(self.systems, "scores", "train", "*", "done.json"))):
            if path in self.seen:  # each finished score of the factory (its resume point) lists its records
                continue
            self.seen.add(path)
            for r in json.load(open(path)).get("records", {}).get("train", []):
                if r.get("kind") == "system":
                    self.staff_bands.add(r.get("staff_bands", 0))
                    self._add(4, [os.path.join(self.systems, r["image"])] +
                              ([os.path.join(self.systems, r["image_scan"])] if r.get("image_scan") else []), r["lmx"])

    def counts(self):
        return [len(k) for k in self.by_kind]


def marks_of(record):
    """An excerpt record's note heads and rests (datafactory/excerpts.py), or None (built before)."""
    return {"heads": record["heads"], "rests": record.get("rests", [])} if "heads" in record else None


def make_batch(examples, weights, budget, rng, frames, events, max_rows, single_kind=False, heads=None):
    """Examples drawn by the curriculum's weights until the batch's padded pixels reach budget;
    single_kind: the kind is drawn once per batch (less padding in big batches). heads (a HeadMap):
    the batch also carries the dense column targets [B, columns, K] (-1 where unknown), else None."""
    chosen = []
    kinds = np.flatnonzero(weights > 0)
    kind = None
    while True:
        if kind is None or not single_kind:
            kind = int(rng.choice(kinds, p=weights[kinds] / weights[kinds].sum()))
        paths, ids, marks = examples.by_kind[kind][int(rng.integers(0, len(examples.by_kind[kind])))]
        path = paths[int(rng.integers(0, len(paths)))]  # a factory system: clean or its scan-like copy
        try:
            gray = read_image(path)
            gray, x_scale, x_shift = augment(soften(gray, rng) if isinstance(path, tuple) else gray, rng,
                                             examples.bands)
            im = Ink(gray)
        except ValueError:
            continue
        if im.rows > max_rows:
            continue
        im.marks = heads.of(marks, im.cols * (16 // heads.column_px), x_scale, x_shift) if heads else None
        trial = chosen + [(im, ids)]
        padded = len(trial) * max(x.rows for x, _ in trial) * max(x.cols for x, _ in trial) * 256
        if chosen and padded > budget:
            break
        chosen = trial
        if padded > budget:
            break
    px, size, target, tf, tp = collate_ink([im for im, _ in chosen], [frames.stream(LMX, ids) for _, ids in chosen])
    ctc = padded_rows([events.of(ids) for _, ids in chosen])
    dense = None
    if heads:
        dense = np.full((len(chosen), max(im.marks.shape[0] for im, _ in chosen), heads.classes), -1.0, np.float32)
        for k, (im, _) in enumerate(chosen):
            dense[k, :im.marks.shape[0]] = im.marks
        dense = torch.from_numpy(dense)
    return px, size, target, tf, tp, ctc, [ids for _, ids in chosen], [im.cols for im, _ in chosen], dense


class BatchSource(torch.utils.data.IterableDataset):
    """Training batches made in worker processes (--workers): each worker draws with its own
    generator; the curriculum's stage is read from a shared value the training loop sets."""

    def __init__(self, examples, budget, seed, step, stage, frames, events, max_rows, heads=None):
        super().__init__()
        self.examples, self.budget, self.seed, self.step, self.stage = examples, budget, seed, step, stage
        self.frames, self.events, self.max_rows, self.heads = frames, events, max_rows, heads

    def __iter__(self):
        import cv2
        cv2.setNumThreads(1)
        torch.set_num_threads(1)
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, self.step, info.id if info else 0])
        while True:
            yield make_batch(self.examples, stage_weights(self.examples, self.stage.value), self.budget, rng,
                             self.frames, self.events, self.max_rows, single_kind=True, heads=self.heads)


def stage_weights(examples, stage):
    """The curriculum's weights at stage (progress) over the kinds that have examples."""
    weights = curriculum(stage, bool(examples.by_kind[4]))
    for k in range(5):
        if not examples.by_kind[k]:
            weights[k] = 0.0
    return weights / weights.sum()


def collate_ink(inks, streams):
    """collate_pixels' batch with the ink as uint8 (0..255; the trainer scales it to 0..1 where it
    runs), built in numpy: a big batch collates ~10x faster and crosses to a GPU in a quarter of
    the bytes."""
    b = len(inks)
    h, w = max(x.ink.shape[0] for x in inks), max(x.ink.shape[1] for x in inks)
    t = max(len(g) for g, _ in streams)
    px = np.zeros((b, 1, h, w), np.uint8)
    tf = np.zeros((b, t, streams[0][0].shape[1]), np.int64)
    tp = np.zeros((b, t, 2), np.int64)
    size = np.zeros((b, 2), np.int64)
    for k, (x, (g, q)) in enumerate(zip(inks, streams)):
        px[k, 0, :x.ink.shape[0], :x.ink.shape[1]] = x.ink
        size[k] = x.rows, x.cols
        tf[k, :len(g)], tp[k, :len(q)] = g, q
    return (torch.from_numpy(px), torch.from_numpy(size), torch.full((b,), LMX, dtype=torch.long),
            torch.from_numpy(tf), torch.from_numpy(tp))


def edit_distance(a, b):
    prev = np.arange(len(b) + 1)
    bb = np.asarray(b)
    for i, x in enumerate(a, 1):
        cur = np.empty_like(prev)
        cur[0] = i
        sub = prev[:-1] + (bb != x)
        cur[1:] = np.minimum(sub, prev[1:] + 1)
        for j in range(1, len(cur)):  # insertions run left to right
            if cur[j - 1] + 1 < cur[j]:
                cur[j] = cur[j - 1] + 1
        prev = cur
    return int(prev[-1])


class DevSet:
    """Fixed dev images (gray arrays, no augmentation) with their LMX ids; SER of greedy decoding,
    and the reading error of the encoder's CTC head (its best path against the LMX's note heads,
    rests and barlines in reading order, umt_model/targets.py LmxEvents), from one encoder pass."""

    def __init__(self, items, marks=None):
        self.items = items  # [(id, gray, ids)]
        self.marks = marks or {}  # id -> the engraver's note heads and rests (HeadMap), where known

    def batches(self, device, batch):
        order = sorted(range(len(self.items)), key=lambda i: self.items[i][1].shape[1])
        for s in range(0, len(order), batch):
            group = [self.items[i] for i in order[s:s + batch]]
            inks = [Ink(gray) for _, gray, _ in group]
            h, w = max(x.ink.shape[0] for x in inks), max(x.ink.shape[1] for x in inks)
            px = torch.zeros(len(inks), 1, h, w)
            size = torch.zeros(len(inks), 2, dtype=torch.long)
            for k, x in enumerate(inks):
                px[k, 0, :x.ink.shape[0], :x.ink.shape[1]] = torch.from_numpy(x.ink).float() / 255.0
                size[k, 0], size[k, 1] = x.rows, x.cols
            yield group, px.to(device), size.to(device)

    @torch.no_grad()
    def readings(self, model, layout, batch=16):
        """Per batch, one encoder pass: the items, their greedy LMX ids, the CTC head's best paths,
        and the encoder's memory and mask (for further reading of the same batch)."""
        device = model.pos_a.weight.device
        if device.type != "cpu":
            batch = max(batch, 128)
        model.eval()
        try:
            for group, px, size in self.batches(device, batch):
                memory, mask = model.encode_pixels(px, size, torch.full((len(group),), LMX, dtype=torch.long, device=device))
                longest = max(len(ids) for _, _, ids in group)
                hyps = greedy_lmx(model, layout, memory, mask, int(1.5 * longest) + 20)
                yield group, hyps, ctc_best_paths(model, memory, mask), memory, mask
        finally:
            model.train()

    def scores(self, model, layout, events, frames=None):
        """(greedy SER, CTC reading error, dense head F1, teacher-forced pitch accuracy, duration
        reading error): edit distances, % of the reference tokens / events; the F1 (%) of the dense
        head's columns (an aux_heads network, on the items with marks; else None), a mark found one
        column off counted as found; the % of reference pitch tokens the decoder predicts given the
        reference before them (with frames; else None): what the decoder reads from the image, apart
        from greedy decoding's drift; the duration head's reading error against the events' written
        durations (an aux_durations network; else None)."""
        edits = total = ctc_edits = ctc_total = dur_edits = dur_total = 0
        timed = model.dur_classes > 0
        pitch_ok = pitch_total = 0
        pitch = {i for i, n in enumerate(events.names) if n in events.pitch_class}
        heads = HeadMap() if model.head_classes == HeadMap().classes and self.marks else None
        timed_cols = model.head_classes == len(DURATIONS)  # --duration-columns: against the aligned reference
        precise = found = recalled = wanted = 0
        for group, hyps, reads, memory, mask in self.readings(model, layout):
            for (_, _, ids), hyp, read in zip(group, hyps, reads):
                edits += edit_distance(hyp, [layout.block_start[LMX] + i for i in ids])
                total += len(ids)
                gold = events.of(ids)
                ctc_edits += edit_distance(read, gold) if gold else len(read)
                ctc_total += len(gold)
            if timed:
                for (_, _, ids), read in zip(group, ctc_best_paths(model, memory, mask, timing=True)):
                    gold = events.timing(ids)
                    dur_edits += edit_distance(read, gold) if gold else len(read)
                    dur_total += len(gold)
            if frames is not None:
                said = teacher_forced(model, layout, frames, memory, mask, [ids for _, _, ids in group])
                start = layout.block_start[LMX]
                for (_, _, ids), pred in zip(group, said):
                    for j, i in enumerate(ids):
                        if i in pitch:
                            pitch_ok += int(pred[j] == start + i)
                            pitch_total += 1
            if timed_cols:
                idl = [ids for _, _, ids in group]
                at = ctc_forced_events(model, memory, mask, [events.of(ids) for ids in idl])
                true = duration_columns(events, idl, at, memory.size(1), CTC_UP)
                keep = (true >= 0) & mask.cpu()[:, :, None]
                with torch.no_grad():
                    pred = (model.head_map(memory) > 0).cpu() & keep
                true = (true > 0) & keep
                hits = int((pred & true).sum())  # a column's class is found exactly where it is wanted
                precise += hits
                recalled += hits
                found += int(pred.sum())
                wanted += int(true.sum())
            if heads is None:
                continue
            with torch.no_grad():
                said = (model.head_map(memory) > 0).cpu().numpy()
            for k, (i, _, _) in enumerate(group):
                if i not in self.marks:
                    continue
                n = int(mask[k].sum())
                true, pred = heads.of(self.marks[i], n) > 0, said[k, :n]
                precise += int((pred & widened(true)).sum())
                found += int(pred.sum())
                recalled += int((true & widened(pred)).sum())
                wanted += int(true.sum())
        f1 = None
        if heads is not None or timed_cols:
            p, r = precise / max(found, 1), recalled / max(wanted, 1)
            f1 = round(100.0 * 2 * p * r / max(p + r, 1e-9), 2)
        tf_pitch = round(100.0 * pitch_ok / pitch_total, 2) if pitch_total else None
        return (round(100.0 * edits / max(total, 1), 2), round(100.0 * ctc_edits / max(ctc_total, 1), 2), f1,
                tf_pitch, round(100.0 * dur_edits / max(dur_total, 1), 2) if timed else None)


def reference_frames(frames, ids_list):
    """The teacher-forced LMX streams of a batch (begin, the ids, end): frames [B,T,4], positions [B,T,2]."""
    streams = [frames.stream(LMX, ids) for ids in ids_list]
    t = max(len(f) for f, _ in streams)
    tf = torch.zeros(len(streams), t, 4, dtype=torch.long)
    tp = torch.zeros(len(streams), t, 2, dtype=torch.long)
    for k, (f, p) in enumerate(streams):
        tf[k, :len(f)] = torch.as_tensor(np.asarray(f))
        tp[k, :len(p)] = torch.as_tensor(np.asarray(p))
    return tf, tp


@torch.no_grad()
def teacher_forced(model, layout, frames, memory, mask, ids_list):
    """Per item: argmax of the decoder at each reference position given the reference before it."""
    b = memory.size(0)
    tf, tp = reference_frames(frames, ids_list)
    t = tf.size(1)
    cross = model.init_cross(memory)
    hidden, _ = model.decode_step(tf[:, :-1], tp[:, :-1], cross, mask, [])
    start, count = layout.block_start[LMX], layout.codebook_size[LMX]
    w, bias = model.out.weight[start:start + count], model.out.bias[start:start + count]
    h = model.sub_hidden(hidden.reshape(-1, 1, hidden.size(-1)))[:, 0].view(b, t - 1, -1)
    pred = (F.linear(h, w, bias).argmax(-1) + start).tolist()
    # frames.stream: begin, the ids, end; position k+1 of the stream is predicted at k.
    return [pred[k][:len(ids_list[k]) + 1] for k in range(b)]


def widened(cols):
    """[columns, K] booleans -> the same, also set one column either side of every true cell."""
    return cols | np.pad(cols, ((1, 0), (0, 0)))[:-1] | np.pad(cols, ((0, 1), (0, 0)))[1:]


@torch.no_grad()
def greedy_lmx(model, layout, memory, mask, max_steps, pick=None):
    """Greedy LMX decoding of encoded pixel inputs (encode_pixels' memory and mask), batched,
    cached, finished rows dropped: the algorithm of umt_model/decode.py greedy_decode (and C++'s)
    for an LMX target, whose frames have one slot. pick(logits [n,V], rows), when given, chooses
    the next tokens of the rows still going (their indices in the batch) in place of the argmax."""
    b, dev = memory.size(0), memory.device
    cross = model.init_cross(memory)
    frames = torch.zeros(b, 1, 4, dtype=torch.long, device=dev)
    frames[:, 0] = torch.tensor(layout.begin[LMX], device=dev)
    pos = torch.zeros(b, 1, 2, dtype=torch.long, device=dev)
    pos[:, 0, 0] = layout.pos_start[LMX]
    end, last = layout.end[LMX][0], layout.pos_range[LMX] - 1
    out = [[] for _ in range(b)]
    alive = list(range(b))
    cache = []
    for step in range(max_steps):
        hidden, cache = model.decode_step(frames, pos, cross, mask, cache)
        n = hidden.size(0)
        logits = model.sub_step(hidden[:, -1], torch.zeros(n, 0, dtype=torch.long, device=dev),
                                torch.full((n,), LMX, dtype=torch.long, device=dev))
        tok = logits.argmax(-1) if pick is None else pick(logits, alive)
        toks = tok.tolist()
        keep = [k for k in range(n) if toks[k] != end]
        for k in keep:
            out[alive[k]].append(toks[k])
        if not keep:
            break
        if len(keep) < n:
            idx = torch.tensor(keep, dtype=torch.long, device=dev)
            cross = [(k_.index_select(0, idx), v_.index_select(0, idx)) for k_, v_ in cross]
            cache = [(k_.index_select(0, idx), v_.index_select(0, idx)) for k_, v_ in cache]
            mask = mask.index_select(0, idx)
            tok = tok.index_select(0, idx)
        alive = [alive[k] for k in keep]
        frames = torch.zeros(len(keep), 1, 4, dtype=torch.long, device=dev)
        frames[:, 0, 0] = tok
        pos = torch.zeros(len(keep), 1, 2, dtype=torch.long, device=dev)
        pos[:, 0, 0] = layout.pos_start[LMX] + min(step + 1, last)
    return out


def spread(items, n):
    if n >= len(items):
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def dev_sets(args, ids, pack=None, bands=None):
    """The fixed dev sets by name; bands (a set), when given, gets the image layouts of their records."""
    bands = set() if bands is None else bands
    if pack is not None:  # a pack's fixed dev sets: {name: [(id, PNG bytes, LMX, marks)]} (marks: later packs)
        return {name: DevSet([(it[0], read_image(it[1]), [ids[t] for t in it[2].split() if t in ids]) for it in items],
                             {it[0]: it[3] for it in items if len(it) > 3 and it[3]})
                for name, items in pack.items() if name != "systems_scan" or args.dev_scan}
    sets = {}
    recs = []
    for path in sorted(glob.glob(os.path.join(args.excerpts, "chunks", "dev", "*.jsonl"))):
        recs += [json.loads(line) for line in open(path)]
    recs.sort(key=lambda r: r["id"])
    recs = [r for r in recs if all(t in ids for t in r["lmx"].split())]
    bands.update(r.get("staff_bands", 0) for r in recs)
    if recs and args.dev_excerpts > 0:
        rng = np.random.default_rng(12345)
        pick = sorted(rng.choice(len(recs), min(args.dev_excerpts, len(recs)), replace=False))
        sets["excerpts"] = DevSet([(recs[i]["id"], read_gray(os.path.join(args.excerpts, recs[i]["image"])),
                                    [ids[t] for t in recs[i]["lmx"].split()]) for i in pick],
                                  {recs[i]["id"]: marks_of(recs[i]) for i in pick if marks_of(recs[i])})
    if args.dev_systems:
        systems = [json.loads(line) for line in open(os.path.join(args.dev_systems, "dev.jsonl"))]
        systems = spread(sorted((r for r in systems if r.get("kind") == "system"), key=lambda r: r["id"]),
                         args.dev_system_count)
        bands.update(r.get("staff_bands", 0) for r in systems)
        for variant, key in (("systems", "image"), ("systems_scan", "image_scan")):
            if variant == "systems_scan" and not args.dev_scan:
                continue
            sets[variant] = DevSet([(r["id"], read_gray(os.path.join(args.dev_systems, r[key] or r["image"])),
                                     [ids[t] for t in r["lmx"].split() if t in ids]) for r in systems])
    return sets


def one_layout(bands, what):
    """The one image layout (umt systems --staff-bands) of a set of records; exits when they mix."""
    if len(bands) > 1:
        sys.exit(f"train_omr: {what} mix image layouts (staff bands {sorted(bands)}): build them alike")
    return next(iter(bands), 0)


def sinusoid_columns(model):
    """Sets the position embeddings of the image columns to the Transformer's sinusoids (unit
    scale): the embedding table stays learned, only its start differs."""
    n = model.image_pos_last + 1
    with torch.no_grad():
        model.pos_a.weight[model.image_pos_start:model.image_pos_start + n] = sinusoids(n, model.width, torch.device("cpu"))


def freeze(model, what):
    """--freeze: the modules whose weights stop learning (requires_grad off; AdamW skips them), to be
    kept in eval mode by the training step."""
    parts = {"none": (), "stem": ("pixel_cnn",),
             "encoder": ("pixel_cnn", "pixel_proj", "pixel_ln", "enc_layers", "enc_ln", "ctc", "dur_ctc", "rhythm",
                         "rhythm_proj")}[what]
    modules = [getattr(model, name) for name in parts]
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(False)
    return modules


NEW_PARTS = ("ctc_val", "loc_proj", "copy_proj", "rhythm")  # the projections of --ctc-values, --locate and --copy-ctc (zero at the start), --rhythm's branch
ENCODER_PARTS = ("pixel_cnn", "pixel_proj", "pixel_ln", "enc_layers", "enc_ln", "ctc", "dur_ctc", "pos_a", "target_emb",
                 "rhythm", "rhythm_proj")


def widened_reading(model, weights):
    """A source's projections of the columns' reading (--copy-ctc, --ctc-values) for a model whose
    reading is wider (--ctc-durations on a model without them): the source's columns keep their
    weights, the new ones start at zero."""
    own = model.state_dict()
    for key in ("copy_proj.weight", "ctc_val.weight"):
        if key in weights and key in own and own[key].dim() == 2 and weights[key].dim() == 2 \
                and weights[key].size(0) == own[key].size(0) and weights[key].size(1) < own[key].size(1):
            w = torch.zeros_like(own[key]).float()
            w[:, :weights[key].size(1)] = weights[key].float()
            weights[key] = w
    return weights


def init_weights(model, source, encoder_only=False):
    """Weights of a bundle's I2A (folder) or a run's model.pt / checkpoint.pt; parameters whose
    shape differs (another stem or heads) or that the source lacks start fresh, and with
    encoder_only so does everything after the encoder (the decoder, its embeddings and output)."""
    if os.path.isdir(source):
        man = load_manifest(source)
        weights = torch.jit.load(os.path.join(source, man["translators"]["i2a"])).state_dict()
        rec = man.get("training", {}).get("i2a", {})
        info = {"from": trainer.source_name(source, man=man), "steps": rec.get("total_steps", 0),
                **trainer.lineage(rec=rec)}
    else:
        ck = torch.load(source, map_location="cpu")
        weights = ck["model"]
        info = {"from": trainer.source_name(source, ck=ck), "steps": ck["state"]["step"] + (ck.get("init") or {}).get("steps", 0),
                "samples": ck["state"].get("samples", {}), **trainer.lineage(ck=ck)}
    own = model.state_dict()
    weights = widened_reading(model, dict(weights))
    keep = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()
            if k in own and own[k].shape == v.shape and (not encoder_only or k.split(".")[0] in ENCODER_PARTS)}
    fresh = sorted(k for k in own if k not in keep)
    model.load_state_dict(dict(own, **keep))
    info["fresh"] = sorted({k.split(".")[0] for k in fresh})
    return info


def main():
    steady_heap()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--excerpts", help="excerpt set of scripts/build_excerpts.py (required unless --pack)")
    ap.add_argument("--pack", help="a pack of scripts/pack_omr.py in place of --excerpts, --systems and --dev-systems "
                                   "(its own vocabulary and LMX names: no bundle or umt needed)")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda where a GPU is")
    ap.add_argument("--bf16", action="store_true", help="autocast to bfloat16 (a GPU's training steps)")
    ap.add_argument("--workers", type=int, default=0, help="processes that make the training batches (0: the trainer)")
    ap.add_argument("--systems", help="a data factory build with train system images (full systems in the curriculum)")
    ap.add_argument("--curriculum-from", type=float, default=0.0, metavar="P",
                    help="the curriculum's stage is that of progress max(P, the run's progress): a continued "
                         "run can move on to longer examples (0.5: full systems join) before its schedule gets there")
    ap.add_argument("--dev-systems", help="a data factory build of the dev split with system images")
    ap.add_argument("--dev-system-count", type=int, default=100)
    ap.add_argument("--dev-scan", action="store_true", help="also decode the dev systems' scan-like copies")
    ap.add_argument("--dev-excerpts", type=int, default=150, help="fixed dev excerpts (0: none, the dev systems alone)")
    ap.add_argument("--run", help="the run's folder (required unless --evaluate)")
    ap.add_argument("--evaluate", action="store_true",
                    help="decode the dev sets with --init's weights (the same network options), print their SER "
                         "as JSON and stop: no training, no run folder")
    ap.add_argument("--models", default="models/default", help="bundle whose vocabulary the tokens use")
    ap.add_argument("--init", help="a bundle folder (its I2A) or a run's model.pt / checkpoint.pt")
    ap.add_argument("--init-encoder-only", action="store_true",
                    help="take only the encoder (stem, layers, CTC head) from --init; the decoder starts fresh, "
                         "without the language model of a decoder that learnt to write without reading")
    ap.add_argument("--budget", type=float, default=2.0, help="padded ink pixels per batch, millions")
    ap.add_argument("--ctc-loss", type=float, default=0.3, help="weight of the encoder's CTC loss")
    ap.add_argument("--head-loss", type=float, default=0.0,
                    help="weight of the dense head's loss (umt_model/targets.py HeadMap): every column told which "
                         "staff positions hold a note head and which staves a rest, from the engraver's positions in "
                         "the excerpt records (built with them); a network with the head (its own flag)")
    ap.add_argument("--token-loss", type=float, default=1.0,
                    help="weight of the decoder's LMX loss; 0 trains the encoder on its CTC loss alone (no decoder "
                         "pass: cheaper steps), the best model then chosen by the dev CTC reading error")
    ap.add_argument("--freeze", choices=["none", "stem", "encoder"], default="none",
                    help="keep part of the network as --init gave it (BatchNorm statistics too): 'stem' the pixel "
                         "CNN (no CNN backward pass: cheaper steps), 'encoder' the CNN, the encoder layers and the "
                         "CTC head (the decoder learns to read columns that no longer move; no CTC loss)")
    ap.add_argument("--input-dropout", type=float, default=0.0,
                    help="blank this share of the decoder's teacher-forced LMX inputs (not begin)")
    ap.add_argument("--sample-inputs", type=float, default=0.0, metavar="P",
                    help="scheduled sampling: each LMX token of the decoder's input is, with probability P, the "
                         "decoder's own teacher-forced prediction of it (a pass without gradients), so that it "
                         "learns to go on from its own mistakes as greedy decoding must")
    ap.add_argument("--guide", type=float, default=0.0,
                    help="weight of the guided-attention loss (umt_model/guide.py): the decoder's cross-attention "
                         "pulled towards where on the image the token being written is")
    ap.add_argument("--guide-heads", type=int, default=3, help="guided heads of each decoder layer (the rest free)")
    ap.add_argument("--guide-from", choices=["places", "ctc"], default="places",
                    help="where the guide expects each token: 'places' from the LMX's measures and onsets (a "
                         "header, then the measures side by side), 'ctc' at the column where the encoder's CTC head "
                         "reads its note head, rest or barline on the forced path of the reference (Viterbi)")
    ap.add_argument("--guide-sigma", type=float, default=1.5,
                    help="tolerance of the 'ctc' guide, in columns (the 'places' guide takes a quarter measure)")
    ap.add_argument("--cross-positions", action="store_true",
                    help="a network whose cross-attention keys and values carry the columns' sinusoids (gated; "
                         "umt_model/network.py default_network); a model without them starts with the gates fresh")
    ap.add_argument("--column-sinusoids", action="store_true",
                    help="a network whose image columns' encoder input also gets their sinusoid (a learned gate, "
                         "fresh at 0.5 on a model without it)")
    ap.add_argument("--locate", type=int, default=0, metavar="H",
                    help="location-aware decoding (network.py default_network locate): each step is told the "
                         "column its last decoder layer's first H cross-attention heads looked at on the step before "
                         "(H = --guide-heads: the guided ones); trained with the reference's columns from the CTC "
                         "head's forced alignment (needs --guide-from ctc); a model without it starts with the "
                         "projection at zero")
    ap.add_argument("--locate-jitter", type=float, default=0.2, metavar="P",
                    help="with --locate, the share of the given columns moved one column left or right (greedy "
                         "decoding's own columns are not always the reference's)")
    ap.add_argument("--ctc-values", action="store_true",
                    help="a network whose decoder's cross-attention keys and values also carry the CTC head's "
                         "reading of each column (network.py default_network ctc_values; a model without it "
                         "starts with the projection at zero)")
    ap.add_argument("--copy-ctc", type=int, default=0, metavar="H",
                    help="a network with a copy path: the CTC head's column reading under the last decoder layer's "
                         "first H cross-attention heads enters the decoder's final state (network.py default_network "
                         "copy_ctc; a model without it starts with the projection at zero)")
    ap.add_argument("--ctc-durations", action="store_true",
                    help="a second CTC head beside the first reads each note head's and rest's written duration "
                         "(network.py default_network aux_durations, targets.py LmxEvents.timing) from the encoder's "
                         "output (without training the encoder; clipped on its own): its column reading "
                         "joins the first's in the copy path, which then carries the rhythm too; a model without it "
                         "starts with the head fresh and the copy projection's new columns at zero")
    ap.add_argument("--durations-train-encoder", type=float, default=0.0, metavar="W",
                    help="with --ctc-durations, the duration head's CTC also trains the encoder, at weight W: "
                         "the encoder is asked to carry the beams, flags, dots and note-head kinds that the "
                         "written durations need (a head that reads the encoder as it is reads them poorly)")
    ap.add_argument("--duration-columns", type=float, default=0.0, metavar="W",
                    help="a dense head (network aux_heads, one class per written duration) told, at weight W, which "
                         "durations begin in each column, where the CTC head's forced alignment of the reference "
                         "reads each note head and rest (needs --guide-from ctc): the encoder is asked to carry the "
                         "beams, flags, dots and note-head kinds at the notes' own columns; the head's group is "
                         "clipped on its own and runs at --new-lr-scale")
    ap.add_argument("--copy-durations", action="store_true",
                    help="with --duration-columns and --copy-ctc, the dense head's column reading (which durations "
                         "begin there) joins the copy path (network copy_heads; a model without it starts with the "
                         "copy projection's new columns at zero)")
    ap.add_argument("--rhythm", type=int, default=0, metavar="C",
                    help="a branch of C channels from the pixel CNN's second stage to each column, added to the "
                         "encoder's output (network rhythm, zero at the start; learns at --new-lr-scale): what "
                         "tells a written duration (beams, flags, heads), which the CNN's last stage loses; with "
                         "--duration-columns a head of its own is told the durations too (without it the branch "
                         "learnt little: docs/results/omr.md, session 33)")
    ap.add_argument("--self-window", type=int, default=0, metavar="N",
                    help="a network whose decoder's self-attention sees only its last N tokens (network.py "
                         "default_network self_window; 0 = all): it cannot copy what it wrote a measure ago")
    ap.add_argument("--self-sink", type=int, default=12, metavar="N",
                    help="with --self-window, the first N tokens (the system's clefs, key and time) stay in sight")
    ap.add_argument("--new-lr-scale", type=float, default=1.0, metavar="K",
                    help="learning rate of the --ctc-values, --locate and --copy-ctc projections and the --ctc-durations "
                         "and --duration-columns heads, times the run's: they start fresh, where the run's rate would take hundreds of steps to "
                         "give them a say")
    ap.add_argument("--locate-own", type=float, default=0.0, metavar="P",
                    help="with --locate, the share of the queries told the column the decoder itself looked at "
                         "on the step before (a pass without gradients over the reference, told its columns), "
                         "as greedy decoding tells it, instead of the reference's")
    ap.add_argument("--cross-gate-start", type=float, nargs=2, metavar=("KEYS", "VALUES"),
                    help="with --cross-positions, the fresh gates' start (network.py: 0.5 0.1)")
    ap.add_argument("--image-stem", choices=["pixels", "pixels8"], default="pixels8")
    ap.add_argument("--column-positions", choices=["learned", "sinusoid"], default="learned",
                    help="a fresh model's image column position embeddings: learned from N(0, 0.02) like the "
                         "others, or started as unit-scale sinusoids so that the cross-attention can tell the "
                         "columns apart from the first step (the columns' content is unit-scale after its LayerNorm)")
    ap.add_argument("--pixel-channels", type=int, nargs=4, metavar="C",
                    help="the pixels8 CNN's stage widths (default umt_model/seeing.py's 32 64 128 160)")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--encoder-layers", type=int, default=3)
    ap.add_argument("--decoder-layers", type=int, default=3)
    ap.add_argument("--umt", default="build/umt")
    trainer.schedule_args(ap, warmup=300, eval_every=10, threads=2, minutes_required=False)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    # oneDNN: 2x faster convolutions, and here its CNN gradients are the accurate ones (against a
    # float64 reference: 0.1 % off, the native kernels 3 %); the GELU backward it gets wrong
    # (scripts/checks/check_onednn_grad.py) sits only in the old "pixels" stem, which keeps it off.
    torch.backends.mkldnn.enabled = args.image_stem == "pixels8"

    pack = None
    if args.pack:
        import lzma
        import pickle
        with lzma.open(os.path.join(args.pack, "pack.pkl.xz"), "rb") as f:
            pack = pickle.load(f)
        args.models = args.pack
        with open(os.path.join(args.pack, "lmx_names.json")) as f:
            names = json.load(f)
    elif not args.excerpts:
        sys.exit("train_omr: give --excerpts (or --pack)")
    if args.locate > 0 and args.guide_from != "ctc":
        sys.exit("train_omr: --locate takes its columns from the CTC head's alignment: give --guide-from ctc")
    man = load_manifest(args.models)
    vocab = man["vocabulary"]
    layout = Layout(vocab)
    if pack is None:
        names = lmx_names(args.umt)
    ids = {t: i for i, t in enumerate(names)}
    events = LmxEvents(names)
    heads = HeadMap() if args.head_loss > 0 else None
    if args.durations_train_encoder > 0 and not args.ctc_durations:
        sys.exit("train_omr: --durations-train-encoder trains through the duration head: give --ctc-durations")
    if args.copy_durations and (args.duration_columns <= 0 or args.copy_ctc <= 0):
        sys.exit("train_omr: --copy-durations joins the --duration-columns head's reading to the --copy-ctc path: give both")
    if args.duration_columns > 0 and (heads or args.guide_from != "ctc" or args.guide <= 0):
        sys.exit("train_omr: --duration-columns takes the columns from the guide's CTC alignment (--guide W "
                 "--guide-from ctc) and uses the dense head: not with --head-loss")
    net = default_network(args.width, args.heads, args.encoder_layers, args.decoder_layers,
                          image_stem=args.image_stem, code_vectors=True, aux_ctc=events.classes,
                          pixel_channels=args.pixel_channels,
                          aux_heads=heads.classes if heads else len(DURATIONS) if args.duration_columns > 0 else 0,
                          cross_positions=args.cross_positions, column_sinusoids=args.column_sinusoids,
                          locate=args.locate, ctc_values=args.ctc_values, self_window=args.self_window,
                          self_sink=args.self_sink, copy_ctc=args.copy_ctc,
                          aux_durations=events.duration_classes if args.ctc_durations else 0,
                          copy_heads=args.copy_durations and args.duration_columns > 0, rhythm=args.rhythm)
    model = Translator(vocab, net).to(args.device)  # before the optimizer: its state lives where the weights do
    if args.duration_columns > 0:  # a fresh head starts near "no duration begins here": small early losses
        torch.nn.init.constant_(model.head_map.bias, -4.0)
        if model.rhythm_channels > 0:
            torch.nn.init.constant_(model.rhythm_head.bias, -4.0)
    if args.image_stem == "pixels8":  # the layout oneDNN's convolutions run fastest on (seeing.py)
        model.pixel_cnn.to(memory_format=torch.channels_last)
    apart = ("dur_ctc",) + (("head_map", "rhythm_head") if args.duration_columns > 0 else ())
    groups = [{"params": [p for n, p in model.named_parameters() if not n.startswith(NEW_PARTS + apart)]}]
    if model.dur_classes > 0:  # the duration head reads the encoder without training it, clipped on its own
        groups.append({"params": list(model.dur_ctc.parameters()), "clip_apart": True, "lr_scale": args.new_lr_scale})
    if args.duration_columns > 0:  # a fresh head: its early gradients must not take the others' clip
        groups.append({"params": list(model.head_map.parameters()) + list(model.rhythm_head.parameters()),
                       "clip_apart": True, "lr_scale": args.new_lr_scale})
    new = [p for n, p in model.named_parameters() if n.startswith(NEW_PARTS) and not n.startswith(apart)]
    if new and args.new_lr_scale != 1.0:  # the options' own projections, which start at zero
        groups.append({"params": new, "lr_scale": args.new_lr_scale})
    else:
        groups[0]["params"] += new
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.98), weight_decay=args.weight_decay)
    if args.evaluate:
        if not args.init:
            sys.exit("train_omr: --evaluate needs --init (a bundle, or a run's model.pt / best.pt)")
        info = init_weights(model, args.init)
        if info["fresh"]:
            sys.exit(f"train_omr: {args.init} lacks weights of this network (give its network options): "
                     f"{info['fresh'][:4]}")
        devs = dev_sets(args, ids, pack and pack["dev"])
        scores = {k: v.scores(model, layout, events, Frames(layout)) for k, v in devs.items()}
        print(json.dumps({"init": args.init, "dev_ser": {k: v[0] for k, v in scores.items()},
                          "dev_ctc_error": {k: v[1] for k, v in scores.items()},
                          "dev_tf_pitch_accuracy": {k: v[3] for k, v in scores.items()},
                          **({"dev_head_f1": {k: v[2] for k, v in scores.items() if v[2] is not None}}
                             if any(v[2] is not None for v in scores.values()) else {}),
                          **({"dev_duration_error": {k: v[4] for k, v in scores.items()}}
                             if model.dur_classes > 0 else {}),
                          "items": {k: len(v.items) for k, v in devs.items()}}))
        return
    if not args.run or not args.minutes:
        sys.exit("train_omr: --run and --minutes are required for training")
    os.makedirs(args.run, exist_ok=True)
    ck_path = os.path.join(args.run, "checkpoint.pt")
    state = {"step": 0, "seconds": 0.0, "samples": {}, "best_ser": 1e9}
    init_info = None
    frozen = freeze(model, args.freeze)
    average = trainer.averaging(model, args)
    resumed = trainer.resume(ck_path, model, opt, net, average=average)
    if resumed:
        state, init_info = resumed
    elif args.init:
        init_info = init_weights(model, args.init, args.init_encoder_only)
        if args.cross_gate_start and "cross_pos_gate" in init_info["fresh"]:
            with torch.no_grad():
                model.cross_pos_gate[:] = torch.tensor(args.cross_gate_start)
        print(f"initialised from {args.init}; fresh: {init_info['fresh']}", file=sys.stderr)
    elif args.column_positions == "sinusoid":
        sinusoid_columns(model)

    train = Examples(args.excerpts, args.systems, ids, layout, pack and pack["train"])
    dev_bands = set()
    devs = dev_sets(args, ids, pack and pack["dev"], dev_bands)
    if pack is not None:  # a pack's images share one layout (packs made before say none: 0)
        dev_bands.add(pack.get("staff_bands", 0))
    staff_bands = train.bands = one_layout(train.staff_bands | dev_bands, "the training and dev images")
    print(f"train examples by kind (1-4 measures, systems): {train.counts()}, skipped {train.skipped}; "
          f"dev: {({k: len(v.items) for k, v in devs.items()})}", file=sys.stderr, flush=True)
    frames = Frames(layout)
    rng = np.random.default_rng([args.seed, state["step"]])
    torch.manual_seed(args.seed * 1000 + state["step"])
    curve = open(os.path.join(args.run, "curve.jsonl"), "a")
    main_dev = "systems" if "systems" in devs else "excerpts"

    def save(best=False):
        info = {"direction": "i2a", "tasks": ["omr"], "step": state["step"], "samples": state["samples"],
                "minutes": round(state["seconds"] / 60, 1), "lr": args.lr, "ema": args.ema, "budget_mpx": args.budget,
                "ctc_loss": args.ctc_loss, "head_loss": args.head_loss, "token_loss": args.token_loss, "freeze": args.freeze, "input_dropout": args.input_dropout, "sample_inputs": args.sample_inputs, "guide": args.guide, "guide_heads": args.guide_heads, "guide_from": args.guide_from, "guide_sigma": args.guide_sigma, "locate": args.locate, "ctc_values": args.ctc_values, "self_window": args.self_window, "self_sink": args.self_sink if args.self_window else 0, "copy_ctc": args.copy_ctc, "ctc_durations": args.ctc_durations, "durations_train_encoder": args.durations_train_encoder, "duration_columns": args.duration_columns, "copy_durations": args.copy_durations, "rhythm": args.rhythm, "new_lr_scale": args.new_lr_scale, "locate_jitter": args.locate_jitter, "locate_own": args.locate_own, "cross_gate_start": args.cross_gate_start, "image_stem": args.image_stem,
                "column_positions": args.column_positions, "curriculum_from": args.curriculum_from,
                "staff_bands": staff_bands, "data": "excerpts (1-4 measures, verovio)"
                + (" + factory systems" if args.systems else ""), "best_dev": state.get("best")}
        body = {"model": model.state_dict(), "network": net, "vocabulary": vocab, "state": state,
                "init": init_info, "training": info}
        trainer.save(args.run, body, opt, best, average)

    def evaluate(final=False):
        t0 = time.time()
        scores = {k: v.scores(model, layout, events, frames) for k, v in devs.items()}
        d, ctc = {k: v[0] for k, v in scores.items()}, {k: v[1] for k, v in scores.items()}
        pitch = {k: v[3] for k, v in scores.items()}
        head = {k: v[2] for k, v in scores.items() if v[2] is not None}
        durations = {k: v[4] for k, v in scores.items() if v[4] is not None}
        best_on = main_dev + (" ctc" if args.token_loss == 0 else "")
        if state.get("best_on", "excerpts") != best_on:  # a continued run now measured on the systems (or by CTC)
            state["best_ser"], state["best_on"] = 1e9, best_on
        # Encoder-only training (--token-loss 0) leaves the decoder as it was: its best is the best reader.
        score = ctc[main_dev] if args.token_loss == 0 else d[main_dev]
        best = score < state["best_ser"]
        if best:
            state["best_ser"], state["best"] = score, dict(d, step=state["step"], ctc_error=ctc)
        curve.write(json.dumps({"step": state["step"], "minutes": round(state["seconds"] / 60, 2),
                                "samples": dict(state["samples"]), "dev_ser": d, "dev_ctc_error": ctc, "dev_tf_pitch_accuracy": pitch,
                                **({"dev_head_f1": head} if head else {}),
                                **({"dev_duration_error": durations} if durations else {}),
                                **({"final": True} if final else {})}) + "\n")
        curve.flush()
        print(f"dev step {state['step']} {state['seconds'] / 60:.1f} min SER {d} CTC reading error {ctc} "
              f"teacher-forced pitch accuracy {pitch} "
              + (f"head F1 {head} " if head else "") + (f"duration reading error {durations} " if durations else "")
              + f"({time.time() - t0:.0f} s)",
              file=sys.stderr, flush=True)
        return best

    progress = lambda: state["seconds"] / (60 * args.minutes)  # noqa: E731
    refreshed = [time.time()]
    guide_window = []
    recorder = AttentionRecorder(model, args.guide_heads)
    places = reading_places(names)

    stage = None
    if args.workers > 0:
        import multiprocessing
        stage = multiprocessing.Value("d", max(progress(), args.curriculum_from))
        source = BatchSource(train, args.budget * 1e6, args.seed, state["step"], stage, frames, events, layout.max_height,
                             heads)
        batches = iter(torch.utils.data.DataLoader(source, batch_size=None, num_workers=args.workers,
                                                   pin_memory=args.device != "cpu", prefetch_factor=4))
    device = torch.device(args.device)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.bf16 else contextlib.nullcontext

    def batch_loss():
        if stage is not None:
            stage.value = max(progress(), args.curriculum_from)
            px, size, target, tf, tp, ctc, batch_ids, batch_cols, dense = next(batches)
        else:
            if time.time() - refreshed[0] > 300:  # excerpt chunks the builder added meanwhile
                train.refresh()
                one_layout(train.staff_bands | {staff_bands}, "the training images picked up during the run")
                refreshed[0] = time.time()
            weights = stage_weights(train, max(progress(), args.curriculum_from))
            px, size, target, tf, tp, ctc, batch_ids, batch_cols, dense = make_batch(
                train, weights, args.budget * 1e6, rng, frames, events, layout.max_height, heads=heads)
        if device.type != "cpu":
            px, size, target, tf, tp, ctc = (x.to(device, non_blocking=True) for x in (px, size, target, tf, tp, ctc))
            dense = dense.to(device, non_blocking=True) if dense is not None else None
        px = px.float().div_(255.0)
        tgt_in = None
        if args.input_dropout > 0:  # the language model alone cannot predict what it does not see
            drop = torch.rand(tf.shape[:2], device=tf.device) < args.input_dropout
            drop[:, 0] = False
            tgt_in = tf.clone()
            tgt_in[:, :, 0] = tgt_in[:, :, 0].masked_fill(drop, 0)  # PAD embeds to zero
        recorder.on = args.guide > 0
        for part in frozen:  # frozen parts keep their BatchNorm statistics (the dev pass sets train mode)
            part.eval()
        encoder_learns = args.freeze != "encoder"  # else: no encoder losses, the source encoded without gradients
        with autocast():
            encoded = None
            if not encoder_learns:
                with torch.no_grad():
                    encoded = model.encode_source(px, size, target)
            if args.sample_inputs > 0:
                if encoded is None:
                    encoded = model.encode_source(px, size, target)
                tgt_in = own_predictions(encoded, tf, tp, tf.clone() if tgt_in is None else tgt_in)
            aligned = None
            told = None  # the rhythm branch's columns, told the durations through its own head
            if encoded is None and encoder_learns and model.rhythm_channels > 0 and args.duration_columns > 0:
                memory, mask, told = model.encode_pixels_parts(px, size, target)
                encoded = (memory, mask)
            if (args.guide > 0 or args.locate > 0) and args.guide_from == "ctc":
                if encoded is None:
                    encoded = model.encode_source(px, size, target)
                aligned, found = ctc_alignment(encoded, batch_ids)
                if args.duration_columns > 0:
                    dense = duration_columns(events, batch_ids, found, encoded[0].size(1), CTC_UP).to(device)
            if model.dur_classes > 0 and encoder_learns:  # the duration head's CTC, beside the head's
                if encoded is None:
                    encoded = model.encode_source(px, size, target)
                durs = padded_rows([events.timing(ids) for ids in batch_ids]).to(device)
                into = args.durations_train_encoder > 0  # else the head reads the encoder without training it
                extra = model.ctc_loss(encoded[0] if into else encoded[0].detach(), encoded[1], durs, timing=True) \
                    * (args.durations_train_encoder if into else args.ctc_loss)
            else:
                extra = 0.0
            if told is not None:
                extra = extra + model.rhythm_loss(told, encoded[1], dense) * args.duration_columns
            loss = extra + model(px, size, target, tf, tp, tgt_input=tgt_in, ctc_targets=ctc,
                         ctc_weight=args.ctc_loss if encoder_learns else 0.0, token_weight=args.token_loss,
                         encoded=encoded, head_targets=dense,
                         head_weight=(args.head_loss or args.duration_columns) if encoder_learns else 0.0,
                         tgt_loc=given_columns(aligned, tf.size(1) - 1, encoded, tf, tp, tgt_in)
                         if args.locate > 0 else None)
        recorder.on = False
        if args.guide > 0:
            if aligned is not None:
                g_target, g_sigma = aligned, torch.full((len(batch_ids),), args.guide_sigma)
            else:
                g_target, g_sigma = column_targets(places, batch_ids, [c * model.columns_per_cell for c in batch_cols])
            g = guided_loss(recorder.take(), g_target, g_sigma)
            guide_window.append(float(g))
            loss = loss + args.guide * g
        return loss, len(px)

    def own_predictions(encoded, tf, tp, tgt_in):
        """tgt_in with each LMX input token replaced, with probability --sample-inputs, by the
        decoder's argmax for it given the reference before it (scheduled sampling, one pass)."""
        start, count = layout.block_start[LMX], layout.codebook_size[LMX]
        recording, recorder.on = recorder.on, False  # the guide reads the attention of the pass that learns
        with torch.no_grad():
            memory, mask = encoded
            hidden, _ = model.decode_step(tf[:, :-1], tp[:, :-1], model.init_cross(memory), mask, [])
            b, t = hidden.shape[:2]
            h = model.sub_hidden(hidden.reshape(-1, 1, hidden.size(-1)))[:, 0].view(b, t, -1)
            pred = F.linear(h, model.out.weight[start:start + count], model.out.bias[start:start + count]).argmax(-1) + start
        recorder.on = recording
        given = tgt_in[:, 1:, 0]  # position k+1 of the input is predicted at k
        lmx = (given >= start) & (given < start + count)
        swap = lmx & (torch.rand(given.shape, device=given.device) < args.sample_inputs)
        tgt_in[:, 1:, 0] = torch.where(swap, pred.to(given.dtype), given)
        return tgt_in

    def given_columns(aligned, t, encoded, tf, tp, tgt_in):
        """The column each teacher-forced query is told (--locate): where the token before it was read
        (the guide's target of the query before), 0 for the first query and where none is known;
        --locate-jitter of them one column off; --locate-own of them (and those where none is known)
        the column the decoder's own attention peaked at on the step before, told the reference's."""
        cols = torch.zeros(aligned.size(0), t)
        before = aligned[:, :t - 1]
        known = ~torch.isnan(before)
        before = torch.nan_to_num(before, nan=0.5).floor()
        if args.locate_jitter > 0:
            move = (torch.rand(before.shape) < args.locate_jitter).float() * (torch.randint(0, 2, before.shape) * 2 - 1)
            before = (before + move).clamp_min(0)
        cols[:, 1:] = before
        cols = cols.to(device)
        if args.locate_own > 0:
            recording, recorder.on = recorder.on, False
            with torch.no_grad():
                memory, mask = encoded
                given = tf if tgt_in is None else tgt_in
                _, _, att = model.decode_layers(given[:, :-1], tp[:, :-1], model.init_cross(memory), mask, [], cols)
                own = att.argmax(-1).float()[:, :t - 1]
            recorder.on = recording
            take = (torch.rand(own.shape, device=own.device) < args.locate_own) | ~known.to(own.device)
            cols[:, 1:] = torch.where(take, own, cols[:, 1:])
        return cols

    def ctc_alignment(encoded, batch_ids):
        """The guide's targets from the CTC head's forced path of each example's reference, and the
        path's first frame of each event."""
        readings = [events.indexed(ids) for ids in batch_ids]
        found = ctc_forced_events(model, *encoded, [[c for c, _ in r] for r in readings])
        return aligned_columns(readings, names, batch_ids, found, CTC_UP), found

    def note():
        text = f" guide {np.mean(guide_window):.3f}" if guide_window else ""
        guide_window.clear()
        return text

    def stop_workers():
        if stage is not None and hasattr(batches, "_shutdown_workers"):
            batches._shutdown_workers()

    trainer.train(args, state, "omr", model, opt, batch_loss, save, evaluate, note, baseline=bool(args.init), average=average,
                  before_restart=stop_workers)


if __name__ == "__main__":
    main()
