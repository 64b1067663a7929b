"""Guided cross-attention for OMR training (issue 18): where on the image each LMX token is.

The I2A decoder's cross-attention did not align with the image by itself: in the shipped model the
column a head looks at most is uncorrelated with the token being written (r = -0.4 ... 0.3 per
head over dev excerpts), and a horizontally flipped system decodes to nearly the same LMX. A
guided-attention loss (Tachibana et al. 2017, "Efficiently trainable text-to-speech ... with
guided attention") makes an attention decoder align within a few hundred steps by penalising
attention far from where the output is expected. For a system the expected place is known well
enough from the LMX itself: a header (brace, clefs, key, time) of about 5 + |fifths| + 2 staff
spaces, then the measures side by side, and within a measure the onset of the note or rest being
written. LMX writes a measure voice by voice, so the expected place jumps back at each backup:
the guide follows the music, not a diagonal.

One image column of the pixels8 stem is 8 pixels = one staff space (staves normalised to 32 px).
"""
import re

import numpy as np
import torch

from .lmx_time import Duration

PITCH = re.compile(r"[A-G][0-9]")


def reading_places(names):
    """-> function(ids) giving each LMX token's place: (measure index, onset fraction in the
    measure), or (-1, 0) for the header tokens before the first event of the first measure."""

    def places(ids):
        out = []
        m, t, onset, last_onset = -1, 0.0, 0.0, 0.0
        lengths, seen_event = [], False
        pending = None  # (kind, chord, grace) of the event whose duration is being read
        d = Duration()
        chord = grace = False
        ends = []

        def close():
            nonlocal t, last_onset, pending
            if pending is None:
                return
            kind, ch, gr = pending
            q = d.quarters()
            if kind == "backup":
                t -= q
            elif kind == "forward":
                t += q
            elif not (ch or gr):
                t += q
            ends.append(t)
            pending = None

        for name in (names[i] for i in ids):
            if name == "measure":
                close()
                if m >= 0:
                    lengths.append(max(ends) if ends and max(ends) > 0 else d.measure_len)
                m, t, last_onset, ends = m + 1, 0.0, 0.0, []
                out.append((m, 0.0, False))
                continue
            if name in ("chord", "grace", "grace:slash"):
                chord |= name == "chord"
                grace |= name != "chord"
                out.append((m, last_onset if chord else t, seen_event))
                continue
            if name in ("rest", "backup", "forward") or PITCH.fullmatch(name):
                close()
                if name in ("backup", "forward"):
                    pending = (name, False, False)
                    out.append((m, t, seen_event))
                else:
                    onset = last_onset if chord else t
                    last_onset = onset
                    pending = (name, chord, grace)
                    seen_event = True
                    out.append((m, onset, True))
                chord = grace = False
                d.start()
                continue
            d.read(name)
            # an attribute token belongs to the event before it (or the measure start)
            prev = out[-1] if out else (max(m, 0), 0.0, False)
            out.append(prev)
        close()
        if m >= 0:
            lengths.append(max(ends) if ends and max(ends) > 0 else d.measure_len)
        measures = max(1, m + 1)
        fifths = next((int(names[i][11:]) for i in ids if names[i].startswith("key:fifths:")), 0)
        timed = any(names[i] == "time" for i in ids[:40])
        res = []
        for mm, onset, event in out:
            mm = max(mm, 0)
            if mm == 0 and not event:
                res.append((-1, 0.0))
            else:
                ln = lengths[mm] if mm < len(lengths) and lengths[mm] > 0 else d.measure_len
                res.append((mm, float(np.clip(onset / ln, 0.0, 0.999))))
        return res, measures, 5 + abs(fifths) + (2 if timed else 0)

    return places


def column_targets(places_of, ids_list, columns):
    """Expected column (float) and tolerance of every teacher-forced query of a batch.

    ids_list: each example's LMX ids (without begin / end); columns: each image's width in encoder
    columns. -> targets [B, T] (NaN where no place: the query that predicts end, padding) and
    sigma [B]; query i predicts token i (the begin frame is query 0)."""
    b = len(ids_list)
    t = max(len(ids) for ids in ids_list) + 1
    target = torch.full((b, t), float("nan"))
    sigma = torch.ones(b)
    for k, (ids, cols) in enumerate(zip(ids_list, columns)):
        pl, measures, header = places_of(ids)
        header = min(float(header), 0.4 * cols)
        width = max(1.0, (cols - header) / measures)
        sigma[k] = max(3.0, 0.25 * width)
        x = [header / 2 if m < 0 else header + (m + u) * width for m, u in pl]
        target[k, :len(x)] = torch.tensor(x)
    return target, sigma


class AttentionRecorder:
    """Keeps the cross-attention probabilities of the decoder layers while switched on (training
    forward only): wraps each layer's cross_att.weights on this model instance (eager mode; the
    exported TorchScript module is built from the class, untouched)."""

    def __init__(self, model, heads):
        self.on, self.maps, self.heads = False, [], heads
        for layer in model.dec_layers:
            att = layer.cross_att
            att.weights = self._wrap(att.weights)

    def _wrap(self, weights):
        def recorded(x, k, allowed):
            a = weights(x, k, allowed)
            if self.on:
                self.maps.append(a[:, : self.heads])
            return a
        return recorded

    def take(self):
        maps, self.maps = self.maps, []
        return maps


def guided_loss(maps, target, sigma):
    """Mean attention mass away from the expected column: sum_s A[t,s] (1 - exp(-(s - x_t)^2 /
    (2 sigma^2))) over the guided heads of every layer, averaged over the queries with a place."""
    if not maps:
        return torch.zeros(())
    s = maps[0].size(-1)
    t = maps[0].size(2)
    dev = maps[0].device  # the targets are made on the CPU; the maps may be on a GPU
    tgt = target[:, :t].to(dev)
    sigma = sigma.to(dev)
    ok = ~torch.isnan(tgt)
    if not bool(ok.any()):
        return torch.zeros((), device=dev)
    cols = torch.arange(s, dtype=torch.float32, device=dev)[None, None, :] + 0.5
    w = 1.0 - torch.exp(-((cols - torch.nan_to_num(tgt)[:, :, None]) ** 2) / (2 * sigma[:, None, None] ** 2))
    w = w * ok[:, :, None]
    total = sum((a * w[:, None]).sum(-1).sum((1, 2)) / a.size(1) for a in maps)  # [B]
    return total.sum() / (len(maps) * ok.sum())


PREFIX = ("chord", "grace", "grace:slash", "print-object:no")  # tokens written before the event they mark


def aligned_columns(readings, names, ids_list, found, frames_per_column):
    """Expected column of every teacher-forced query from the CTC head's own forced alignment.

    readings: each example's CTC targets with the LMX token each stands for (LmxEvents.indexed of
    its ids); ids_list: each example's LMX ids; found: per example the first frame of each of them on the forced path (targets.ctc_forced_frames; None: no alignment, the
    example unguided). A note head's or rest's token is expected at the column where the CTC head
    reads it; the tokens that describe it (duration, beam, stem, staff...) at the same column;
    the tokens that announce it (chord, grace, hidden) at the next event's; a "measure" token at
    the barline that ends the measure before. Header tokens before the first reading stay
    unguided. -> targets [B, T] (NaN: unguided), T = longest example + 1 (query i predicts token i)."""
    b = len(ids_list)
    t = max(len(ids) for ids in ids_list) + 1
    target = torch.full((b, t), float("nan"))
    for k, (ids, read, frames) in enumerate(zip(ids_list, readings, found)):
        if not frames:
            continue
        col = [float("nan")] * len(ids)
        for (_, where), frame in zip(read, frames):
            if where is not None:
                col[where] = frame // frames_per_column + 0.5
        nxt = float("nan")
        for i in range(len(ids) - 1, -1, -1):  # announcing tokens take the next event's column
            if names[ids[i]] in PREFIX:
                col[i] = nxt
            elif col[i] == col[i]:
                nxt = col[i]
        last = float("nan")
        for i in range(len(ids)):  # describing tokens take the column of the event (or barline) before
            if col[i] == col[i]:
                last = col[i]
            else:
                col[i] = last
        target[k, :len(col)] = torch.tensor(col)
    return target
