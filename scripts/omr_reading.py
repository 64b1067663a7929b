#!/usr/bin/env python3
"""Where an I2A's pitch errors come from (issue 18): teacher-forced over fixed dev systems, for every
reference pitch token, where the decoder's guided cross-attention heads peak against the note's
column (the column the CTC head's forced alignment of the reference reads it at, as the guide's
target), whether the decoder writes the right pitch there, and what the CTC head reads in that
column. Optionally the decoder's pitch choice re-scored with the CTC head's pitch probabilities under
the guided attention (log p_decoder + λ log q_CTC, only where the decoder writes a pitch), teacher-
forced and greedy.

  scripts/omr_reading.py --dev DEVB [--init models/default | RUN/model.pt] [--fuse 0.5,1] [--greedy]

DEVB is a data factory build of the dev split in the model's image layout (the band layout for a
band model: build_dataset.py --staff-bands 5); the 100 systems are the trainer's fixed dev systems.
Prints one table per question."""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_omr as T  # noqa: E402
from umt_model.bundle import load_manifest  # noqa: E402
from umt_model.data import Frames  # noqa: E402
from umt_model.guide import AttentionRecorder  # noqa: E402
from umt_model.network import CTC_UP, Translator  # noqa: E402
from umt_model.targets import LmxEvents, ctc_forced_events, lmx_names  # noqa: E402
from umt_model.vocab import LMX, Layout  # noqa: E402


def load(init, umt):
    """(model, layout, names, guided heads) of a bundle folder's I2A or a run's model.pt."""
    if os.path.isdir(init):
        man = load_manifest(init)
        vocab, net = man["vocabulary"], man["networks"]["i2a"]
        heads = man.get("training", {}).get("i2a", {}).get("guide_heads", 2)
    else:
        ck = torch.load(init, map_location="cpu")
        vocab, net, heads = ck["vocabulary"], ck["network"], 2
    model = Translator(vocab, net)
    info = T.init_weights(model, init)
    if info["fresh"]:
        sys.exit(f"omr_reading: {init} lacks weights of its own network: {info['fresh'][:4]}")
    if model.ctc_classes == 0:
        sys.exit(f"omr_reading: {init} has no CTC head (an aux_ctc network)")
    return model.eval(), Layout(vocab), lmx_names(umt), heads


def common_arguments(ap):
    """The arguments every reading check of a model takes: --dev, --init, --systems, --threads, --umt."""
    ap.add_argument("--dev", required=True, help="data factory build of the dev split (the model's image layout)")
    ap.add_argument("--init", default="models/default", help="a bundle folder (its I2A) or a run's model.pt")
    ap.add_argument("--systems", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--umt", default=os.environ.get("UMT_EXE", "build/umt"))


def open_model(args):
    """common_arguments parsed -> (model, layout, LMX names, guided heads, the trainer's fixed dev systems)."""
    torch.set_num_threads(args.threads)
    model, layout, names, heads = load(args.init, args.umt)

    class Dev:
        dev_systems, dev_system_count, dev_scan, excerpts, dev_excerpts = args.dev, args.systems, False, "", 0

    return model, layout, names, heads, T.dev_sets(Dev, {t: i for i, t in enumerate(names)})["systems"]


def in_chords(names, ids, events):
    """Per token index of a pitch: whether its note is part of a chord (it, or the note after it,
    is announced by a "chord" token)."""
    notes, chorded, last = [], {}, -1
    for i, t in enumerate(ids):
        if names[t] in events.pitch_class or names[t] == "rest":
            chorded[i] = any(names[ids[j]] == "chord" for j in range(last + 1, i))
            notes.append(i)
            last = i
    out = {}
    for k, i in enumerate(notes):
        out[i] = chorded[i] or (k + 1 < len(notes) and chorded[notes[k + 1]])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_arguments(ap)
    ap.add_argument("--fuse", default="", help="comma list of λ for the re-scored pitch choice (e.g. 0.5,1)")
    ap.add_argument("--greedy", action="store_true", help="also greedy SER, plain and with each λ of --fuse")
    args = ap.parse_args()
    model, layout, names, heads, dev = open_model(args)
    ids = {t: i for i, t in enumerate(names)}
    events = LmxEvents(names)
    recorder = AttentionRecorder(model, heads)
    start, count = layout.block_start[LMX], layout.codebook_size[LMX]
    pitch_tok = torch.tensor([ids[events.labels[c]] for c in range(3, events.classes)])  # LMX id of class 3..
    is_pitch = torch.zeros(count, dtype=torch.bool)
    is_pitch[pitch_tok] = True
    lams = [float(x) for x in args.fuse.split(",") if x]
    frames = Frames(layout)

    def column_pitches(memory):  # [B,S,P]: the CTC head's pitch probabilities summed over each column's sub-positions
        return model.column_reading(memory)[..., 3:model.ctc_classes]  # a duration head's classes after them

    def fused(logp, maps, mass, lam):
        """logp [..., count] log-probabilities of the LMX block; the pitch choice re-scored by q."""
        a = maps[-1].mean(1)  # the last layer's guided heads [B,T,S]
        q = torch.matmul(a, mass)
        q = q / q.sum(-1, keepdim=True).clamp_min(1e-9)
        out = logp.clone()
        out[..., pitch_tok] = out[..., pitch_tok] + lam * torch.log(q + 1e-6)
        base = logp.argmax(-1)
        choice = out.masked_fill(~is_pitch, float("-inf")).argmax(-1)
        return torch.where(is_pitch[base], choice, base)

    layers = len(model.dec_layers)
    offsets = np.zeros((layers, 3), np.int64)  # at the column / within 3 / further
    by_place = {}  # (place, chord) -> [right, all]
    oracle = {kind: np.zeros(4, np.int64) for kind in ("single", "chord")}  # summed p > 0.2, share > 0.2, most probable, count
    right = {lam: 0 for lam in [0.0] + lams}
    total = 0
    t0 = time.time()
    with torch.no_grad():
        for group, px, size in dev.batches("cpu", 16):
            b = len(group)
            memory, mask = model.encode_pixels(px, size, torch.full((b,), LMX, dtype=torch.long))
            mass = column_pitches(memory)
            ids_list = [it[2] for it in group]
            tf, tp = T.reference_frames(frames, ids_list)
            t = tf.size(1)
            recorder.on = True
            hidden, _ = model.decode_step(tf[:, :-1], tp[:, :-1], model.init_cross(memory), mask, [])
            recorder.on = False
            maps = recorder.take()
            h = model.sub_hidden(hidden.reshape(-1, 1, hidden.size(-1)))[:, 0].view(b, t - 1, -1)
            logp = F.linear(h, model.out.weight[start:start + count], model.out.bias[start:start + count]).log_softmax(-1)
            preds = {0.0: logp.argmax(-1)}
            for lam in lams:
                preds[lam] = fused(logp, maps, mass, lam)
            reads = [events.indexed(x) for x in ids_list]
            found = ctc_forced_events(model, memory, mask, [[c for c, _ in r] for r in reads])
            for k, x in enumerate(ids_list):
                for j, i in enumerate(x):
                    if is_pitch[i]:
                        total += 1
                        for lam, p in preds.items():
                            right[lam] += int(p[k, j] == i)
                if not found[k]:
                    continue
                chords = in_chords(names, x, events)
                for (c, where), frame in zip(reads[k], found[k]):
                    if where is None or c < 3:
                        continue
                    col = frame // CTC_UP
                    m = mass[k, col]
                    kind = "chord" if chords.get(where) else "single"
                    oracle[kind] += [int(float(m[c - 3]) > 0.2), int(float(m[c - 3]) / max(float(m.sum()), 1e-9) > 0.2),
                                     int(int(m.argmax()) == c - 3), 1]
                    for layer, a in enumerate(maps):
                        off = abs(int(a[k, :, where].mean(0).argmax()) - col)
                        offsets[layer, 0 if off == 0 else 1 if off <= 3 else 2] += 1
                    place = "at the column" if off == 0 else "1-3 columns off" if off <= 3 else "further"  # the last layer's
                    cell = by_place.setdefault((place, kind), [0, 0])
                    cell[0] += int(preds[0.0][k, where] == x[where])
                    cell[1] += 1
    n = int(sum(o[3] for o in oracle.values()))
    print(f"# {args.init}: {len(dev.items)} dev systems, {total} pitch tokens ({n} aligned by the CTC head), "
          f"{time.time() - t0:.0f} s\n")
    print("| decoder layer | guided heads peak at the note's column | 1-3 columns off | further |\n|---|---|---|---|")
    for layer in range(layers):
        print(f"| {layer + 1} | " + " | ".join(f"{100.0 * v / max(n, 1):.1f} %" for v in offsets[layer]) + " |")
    print("\n| last layer's guided heads | single notes: pitch right | notes in chords: pitch right |\n|---|---|---|")
    for place in ("at the column", "1-3 columns off", "further"):
        cells = [by_place.get((place, kind), [0, 0]) for kind in ("single", "chord")]
        print(f"| {place} | " + " | ".join(f"{100.0 * r / max(a, 1):.1f} % of {a}" for r, a in cells) + " |")
    print("\n| the CTC head in the note's column | right pitch's probability summed over the column > 0.2 | "
          "> 0.2 of the column's pitch probability | the column's most probable pitch |\n|---|---|---|---|")
    for kind, o in oracle.items():
        print(f"| {kind} notes ({o[3]}) | " + " | ".join(f"{100.0 * v / max(o[3], 1):.1f} %" for v in o[:3]) + " |")
    print("\n| pitch choice | teacher-forced pitch accuracy |\n|---|---|")
    for lam in [0.0] + lams:
        print(f"| {'the decoder' if lam == 0 else f're-scored, λ {lam}'} | {100.0 * right[lam] / max(total, 1):.2f} % |")
    if not args.greedy:
        return
    print("\n| greedy decoding | SER |\n|---|---|")
    for lam in [0.0] + lams:
        print(f"| {'the decoder' if lam == 0 else f're-scored, λ {lam}'} | {greedy_ser(model, layout, dev, recorder, column_pitches, fused, lam):.2f} |")


@torch.no_grad()
def greedy_ser(model, layout, dev, recorder, column_pitches, fused, lam):
    """Greedy SER (%) of the dev systems (train_omr.greedy_lmx), the pitch choice re-scored with λ."""
    start, count = layout.block_start[LMX], layout.codebook_size[LMX]
    edits = total = 0
    for group, px, size in dev.batches("cpu", 16):
        b = len(group)
        memory, mask = model.encode_pixels(px, size, torch.full((b,), LMX, dtype=torch.long))
        mass = column_pitches(memory)

        def pick(logits, rows):
            tok = logits.argmax(-1)
            maps = recorder.take()  # this step's attention (the rows still going)
            if lam > 0:
                inside = (tok >= start) & (tok < start + count)
                lmx = logits[:, start:start + count].log_softmax(-1)[:, None]
                choice = fused(lmx, maps, mass[torch.tensor(rows)], lam)[:, 0] + start
                tok = torch.where(inside, choice, tok)
            return tok

        recorder.on = True
        try:
            hyps = T.greedy_lmx(model, layout, memory, mask, int(1.5 * max(len(x) for _, _, x in group)) + 20, pick)
        finally:
            recorder.on = False
            recorder.take()
        for (_, _, x), hyp in zip(group, hyps):
            edits += T.edit_distance(hyp, [start + i for i in x])
            total += len(x)
    return 100.0 * edits / max(total, 1)

if __name__ == "__main__":
    main()
