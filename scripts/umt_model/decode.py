"""Reference decoding loop in Python: the algorithm C++'s umt::model::Translator::decode must match.

Greedy only (tests compare exact tokens); batched with finished rows dropped, cached or uncached.
"""
import torch

from .vocab import N_SLOTS, PAD, RVQ_MODALITIES, PositionTracker


def frames_tensor(rows):
    return torch.tensor(rows, dtype=torch.long)


def pad_inputs(inputs):
    """inputs: list of (frames [[4]], pos [[2]]) -> frames [B,S,4], pos [B,S,2] padded with PAD / 0."""
    s = max(len(f) for f, _ in inputs)
    fr = torch.zeros(len(inputs), s, N_SLOTS, dtype=torch.long)
    po = torch.zeros(len(inputs), s, 2, dtype=torch.long)
    for i, (f, p) in enumerate(inputs):
        fr[i, : len(f)] = frames_tensor(f)
        po[i, : len(p)] = frames_tensor(p)
    return fr, po


def is_end(layout, target, frame):
    if target in RVQ_MODALITIES:
        return all(frame[j] == layout.end[target][j] for j in range(N_SLOTS))
    return frame[0] == layout.end[target][0]


@torch.no_grad()
def greedy_decode(model, layout, inputs, target, max_steps, prefix=None, cached=True):
    """inputs: list of (frames, pos) per row, or of pixel inputs (dicts, as reference_decode.py
    reads them); all rows share target and prefix (a list of frames).

    Returns per row the generated frames after begin + prefix, without the end frame.
    """
    prefix = prefix or []
    b = len(inputs)
    tgt = torch.full((b,), target, dtype=torch.long)
    if isinstance(inputs[0], dict):  # pixel inputs: {"height", "width", "ink": row-major 0..255}
        h = max(x["height"] for x in inputs)
        w = max(x["width"] for x in inputs)
        ink = torch.zeros(b, 1, h, w)
        size = torch.zeros(b, 2, dtype=torch.long)
        for i, x in enumerate(inputs):
            ink[i, 0, : x["height"], : x["width"]] = torch.tensor(x["ink"], dtype=torch.float).view(
                x["height"], x["width"]) / 255.0
            size[i, 0], size[i, 1] = x["height"] // 16, x["width"] // 16
        memory, mask = model.encode_pixels(ink, size, tgt)
    else:
        src, src_pos = pad_inputs(inputs)
        memory, mask = model.encode(src, src_pos, tgt)
    cross = model.init_cross(memory)
    trackers = [PositionTracker(layout, target) for _ in range(b)]
    start = [list(layout.begin[target])] + [list(f) for f in prefix]
    seqs = [[list(f) for f in start] for _ in range(b)]
    positions = [[trackers[i].next(f) for f in start] for i in range(b)]
    out = [[] for _ in range(b)]
    alive = list(range(b))
    cache = []
    new_frames = torch.tensor([start] * b, dtype=torch.long)
    new_pos = torch.tensor(positions, dtype=torch.long)
    for _ in range(max_steps):
        if cached:
            hidden, cache = model.decode_step(new_frames, new_pos, cross, mask, cache)
        else:
            full = torch.tensor([seqs[r] for r in alive], dtype=torch.long)
            full_pos = torch.tensor([positions[r] for r in alive], dtype=torch.long)
            hidden, _ = model.decode_step(full, full_pos, cross, mask, [])
        h = hidden[:, -1]
        n = h.size(0)
        frame = torch.full((n, N_SLOTS), PAD, dtype=torch.long)
        tgt_alive = torch.full((n,), target, dtype=torch.long)
        frame[:, 0] = model.sub_step(h, frame[:, :0], tgt_alive).argmax(-1)
        whole = torch.tensor([layout.is_whole_frame(int(t)) for t in frame[:, 0]], dtype=torch.bool)
        frame[whole] = frame[whole, :1]  # a whole-frame token fills every slot: no more passes for its row
        part = torch.logical_not(whole).nonzero().squeeze(1)
        if len(part):
            for j in range(1, N_SLOTS):
                frame[part, j] = model.sub_step(h[part], frame[part, :j], tgt_alive[part]).argmax(-1)
        keep = []
        next_frames, next_pos = [], []
        for k, r in enumerate(alive):
            f = frame[k].tolist()
            if is_end(layout, target, f):
                continue
            out[r].append(f)
            seqs[r].append(f)
            p = trackers[r].next(f)
            positions[r].append(p)
            keep.append(k)
            next_frames.append([f])
            next_pos.append([p])
        if not keep:
            break
        if len(keep) < n:
            idx = torch.tensor(keep, dtype=torch.long)
            cross = [(k_.index_select(0, idx), v_.index_select(0, idx)) for k_, v_ in cross]
            mask = mask.index_select(0, idx)
            if cached:
                cache = [(k_.index_select(0, idx), v_.index_select(0, idx)) for k_, v_ in cache]
        alive = [alive[k] for k in keep]
        new_frames = torch.tensor(next_frames, dtype=torch.long)
        new_pos = torch.tensor(next_pos, dtype=torch.long)
    return out
