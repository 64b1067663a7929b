#!/usr/bin/python3
"""How much an I2A's decoder reads the image and how much it writes from its own context (issue 18),
on the trainer's fixed dev systems (Python, greedy and teacher-forced):

1. greedy SER by where in the reference a token lies (fifths of each system; a decoder that drifts
   off its track errs more toward the end), and by reference length;
2. the image probe: teacher-forced cross-entropy (nats per LMX token) with each system's own image
   and with another system's (the neighbour in the batch): the gap is what the image tells the
   decoder beyond its language model;
3. the decoder's self-attention cut to its last N tokens and the first S (the network's
   self_window / self_sink, set on the loaded weights without training): greedy SER and teacher-
   forced pitch accuracy: how far the decoder leans on what it wrote long before;
4. (with --excerpts) greedy SER on excerpts of the build's training chunks by their length in
   measures: whether the decoder even reads the images it trains on;
5. greedy decoding with each measure's pitch choice pushed toward the pitches read in that measure
   (by the CTC head, or taken from the reference: an oracle), λ the penalty of a pitch outside them:
   how much of the greedy error is the pitch at all.

  scripts/checks/omr_context.py --dev DEVB [--init models/default | RUN/model.pt] [--windows 16,32]
      [--sink 12] [--pitch-sets 2,100] [--excerpts EXC --excerpt-count 200]

DEVB is a data factory build of the dev split in the model's image layout (build_dataset.py
--images-only --staff-bands 5 for a band model); EXC an excerpt build (build_excerpts.py, the same
layout). Prints one table per question.
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import omr_reading as R  # noqa: E402
import train_omr as T  # noqa: E402
from umt_model.data import Frames  # noqa: E402
from umt_model.targets import LmxEvents, ctc_best_paths  # noqa: E402
from umt_model.vocab import LMX  # noqa: E402


def errors_along(hyp, ref):
    """Edit distance of hyp to ref and, per reference position, the edits charged to it (a
    substitution or deletion there; an insertion to the reference token after it)."""
    n, m = len(hyp), len(ref)
    d = np.zeros((n + 1, m + 1), dtype=np.int32)
    d[:, 0], d[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (hyp[i - 1] != ref[j - 1]))
    err = np.zeros(max(m, 1))
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (hyp[i - 1] != ref[j - 1]):
            err[j - 1] += hyp[i - 1] != ref[j - 1]
            i, j = i - 1, j - 1
        elif j > 0 and d[i, j] == d[i, j - 1] + 1:
            err[j - 1] += 1
            j -= 1
        else:
            err[min(j, m - 1) if m else 0] += 1
            i -= 1
    return int(d[n, m]), err[:m]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    R.common_arguments(ap)
    ap.add_argument("--windows", default="16,32", help="comma list of self-attention windows to try (0 = all)")
    ap.add_argument("--sink", type=int, default=12, help="first tokens every window keeps in sight")
    ap.add_argument("--pitch-sets", default="2,100", help="comma list of λ for the measure pitch sets")
    ap.add_argument("--excerpts", default="", help="an excerpt build: greedy SER on its training excerpts")
    ap.add_argument("--excerpt-count", type=int, default=200)
    args = ap.parse_args()
    model, layout, names, _, dev = R.open_model(args)
    ids = {t: i for i, t in enumerate(names)}
    events = LmxEvents(names)
    frames = Frames(layout)
    start, count = layout.block_start[LMX], layout.codebook_size[LMX]
    own = (model.self_window, model.self_sink)

    # 1. where the greedy errors are
    fifths, fifths_n, rows = np.zeros(5), np.zeros(5), []
    # 2. the image probe
    nats = [0.0, 0.0, 0]

    def cross_entropy(memory, mask, ids_list):
        tf, tp = T.reference_frames(frames, ids_list)
        hidden, _ = model.decode_step(tf[:, :-1], tp[:, :-1], model.init_cross(memory), mask, [])
        h = model.sub_hidden(hidden.reshape(-1, 1, hidden.size(-1)))[:, 0].view(len(ids_list), tf.size(1) - 1, -1)
        lp = F.linear(h, model.out.weight[start:start + count], model.out.bias[start:start + count]).log_softmax(-1)
        return sum(-float(lp[k, torch.arange(len(x)), torch.tensor(x)].sum()) for k, x in enumerate(ids_list))

    with torch.no_grad():
        for group, hyps, _, memory, mask in dev.readings(model, layout):
            for (_, _, ref), hyp in zip(group, hyps):
                e, err = errors_along(hyp, [start + t for t in ref])
                rows.append((len(ref), len(hyp), e))
                for j in range(len(ref)):
                    f = min(4, 5 * j // len(ref))
                    fifths[f] += err[j]
                    fifths_n[f] += 1
            idl = [x[2] for x in group]
            other = torch.roll(torch.arange(len(group)), 1)
            nats[0] += cross_entropy(memory, mask, idl)
            nats[1] += cross_entropy(memory[other], mask[other], idl)
            nats[2] += sum(len(x) for x in idl)
    rows = np.array(rows)
    print(f"\n{args.init}: {len(rows)} dev systems, greedy SER {100 * rows[:, 2].sum() / rows[:, 0].sum():.2f}")
    print("\n| fifth of the reference | 1 | 2 | 3 | 4 | 5 |\n|---|---|---|---|---|---|")
    print("| greedy edits per reference token (%) | " + " | ".join(f"{100 * a / b:.1f}" for a, b in zip(fifths, fifths_n)) + " |")
    print("\n| reference length | systems | greedy SER | output / reference length |\n|---|---|---|---|")
    for lo, hi in ((0, 150), (150, 250), (250, 350), (350, 500), (500, 10 ** 6)):
        s = rows[(rows[:, 0] >= lo) & (rows[:, 0] < hi)]
        if len(s):
            print(f"| {lo}–{hi if hi < 10 ** 6 else ''} | {len(s)} | {100 * s[:, 2].sum() / s[:, 0].sum():.1f} | "
                  f"{s[:, 1].sum() / s[:, 0].sum():.2f} |")
    print("\n| teacher-forced cross-entropy, nats per LMX token | own image | another image | gap |\n|---|---|---|---|")
    print(f"| | {nats[0] / nats[2]:.3f} | {nats[1] / nats[2]:.3f} | {(nats[1] - nats[0]) / nats[2]:.3f} |")

    # 3. the decoder's context cut
    windows = [int(x) for x in args.windows.split(",") if x]
    if windows:
        print(f"\n| self-attention window (+ first {args.sink}) | greedy SER | teacher-forced pitch accuracy % |\n|---|---|---|")
    for w in windows:
        model.self_window, model.self_sink = (w, args.sink) if w else own
        ser, _, _, pitch, _ = dev.scores(model, layout, events, frames)
        print(f"| {w or 'as trained'} | {ser} | {pitch} |", flush=True)
    model.self_window, model.self_sink = own

    # 4. training excerpts by length
    if args.excerpts:
        recs = [json.loads(line) for path in sorted(glob.glob(os.path.join(args.excerpts, "chunks", "train", "*.jsonl")))
                for line in open(path)]
        recs = [r for r in recs if all(t in ids for t in r["lmx"].split())]
        pick = np.random.default_rng(12345).choice(len(recs), min(args.excerpt_count, len(recs)), replace=False)
        seen = T.DevSet([(recs[i]["id"], T.read_gray(os.path.join(args.excerpts, recs[i]["image"])),
                          [ids[t] for t in recs[i]["lmx"].split()]) for i in sorted(pick)])
        by = {}
        with torch.no_grad():
            for group, hyps, _, _, _ in seen.readings(model, layout):
                for (name, _, ref), hyp in zip(group, hyps):
                    k = next(r["measures"] for r in recs if r["id"] == name)
                    a = by.setdefault(k, [0, 0, 0, 0])
                    a[0] += T.edit_distance(hyp, [start + t for t in ref])
                    a[1] += len(ref)
                    a[2] += 1
                    a[3] += len(hyp)
        print("\n| training excerpts, measures | excerpts | greedy SER | output / reference length |\n|---|---|---|---|")
        for k, (e, n, c, h) in sorted(by.items()):
            print(f"| {k} | {c} | {100 * e / n:.1f} | {h / n:.2f} |", flush=True)

    # 5. the measures' pitch sets
    lams = [float(x) for x in args.pitch_sets.split(",") if x]
    if not lams:
        return
    measure_tok = start + ids["measure"]
    pitch_lmx = {c: start + ids[events.labels[c]] for c in range(3, events.classes)}
    pitch_cols = torch.tensor(sorted(pitch_lmx.values()))

    def measures_of(reading):
        out, cur = [], set()
        for c in reading:
            if c == 1:
                out.append(cur)
                cur = set()
            elif c >= 3:
                cur.add(pitch_lmx[c])
        return out + [cur]

    tally = {}
    model.eval()  # DevSet.readings leaves the model in training mode (BatchNorm on batch statistics)
    with torch.no_grad():
        for group, px, size in dev.batches("cpu", 16):
            memory, mask = model.encode_pixels(px, size, torch.full((len(group),), LMX, dtype=torch.long))
            longest = max(len(x[2]) for x in group)
            for source, readings in (("CTC head", ctc_best_paths(model, memory, mask)),
                                     ("reference (oracle)", [events.of(x[2]) for x in group])):
                sets = [measures_of(r) for r in readings]
                for lam in lams:
                    seen = [0] * len(group)

                    def pick(logits, alive, sets=sets, lam=lam, seen=seen):
                        bias = torch.zeros_like(logits)
                        for k, row in enumerate(alive):
                            m = max(0, seen[row] - 1)
                            allowed = sets[row][m] if m < len(sets[row]) else set()
                            if allowed:
                                bias[k, pitch_cols] = -lam
                                bias[k, torch.tensor(sorted(allowed))] = 0.0
                        tok = (logits + bias).argmax(-1)
                        for k, row in enumerate(alive):
                            seen[row] += int(tok[k]) == measure_tok
                        return tok

                    hyps = T.greedy_lmx(model, layout, memory, mask, int(1.5 * longest) + 20, pick=pick)
                    a = tally.setdefault((source, lam), [0, 0])
                    for (_, _, ref), hyp in zip(group, hyps):
                        a[0] += T.edit_distance(hyp, [start + t for t in ref])
                        a[1] += len(ref)
    print("\n| pitches pushed toward the measure's | λ | greedy SER |\n|---|---|---|")
    for (source, lam), (e, n) in tally.items():
        print(f"| {source} | {lam:g} | {100 * e / n:.2f} |")


if __name__ == "__main__":
    main()
