"""Training targets beside the decoder's tokens: the CTC targets of an OMR batch (the visible note
heads and rests of each system in reading order, and its barlines), the LMX vocabulary they
are read with, and the CTC head's reading of them (its best paths)."""
import re
import subprocess

import numpy as np
import torch

from .lmx_time import Duration
from .seeing import COLUMN_PX
from .vocab import LMX, umt_vocabulary


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


class HeadMap:
    """The dense target of an image's columns (an aux_heads network): for every COLUMN_PX-wide
    column, which note heads are centred in it, by staff (1, 2) and place on the staff (half staff
    spaces below its top line, LOW..HIGH, beyond clamped), and which staves have a rest there.
    Positions come from the engraver (an excerpt record's "heads" and "rests",
    datafactory/excerpts.py), x in the image's pixels."""

    STAVES, LOW, HIGH = 2, -12, 20

    def __init__(self, column_px=COLUMN_PX):
        self.column_px = column_px
        self.places = self.HIGH - self.LOW + 1
        self.classes = self.STAVES * self.places + self.STAVES

    def head_class(self, staff, pos):
        return (staff - 1) * self.places + min(max(pos, self.LOW), self.HIGH) - self.LOW

    def rest_class(self, staff):
        return self.STAVES * self.places + staff - 1

    def of(self, marks, columns, x_scale=1.0, x_shift=0.0):
        """marks {"heads": [[x, staff, pos]], "rests": [[x, staff]]} (None: unknown) -> [columns, K]
        float32 (1 / 0; all -1 when unknown), x moved as the image was (x * x_scale + x_shift)."""
        out = np.full((columns, self.classes), -1.0 if marks is None else 0.0, np.float32)
        if marks is None:
            return out
        for items, cls in ((marks.get("heads", []), lambda m: self.head_class(m[1], m[2])),
                           (marks.get("rests", []), lambda m: self.rest_class(m[1]))):
            for m in items:
                if not 1 <= m[1] <= self.STAVES:
                    continue
                c = int((m[0] * x_scale + x_shift) // self.column_px)
                if 0 <= c < columns:
                    out[c, cls(m)] = 1.0
        return out

    def label(self, k):
        if k >= self.STAVES * self.places:
            return f"rest/{k - self.STAVES * self.places + 1}"
        return f"{k // self.places + 1}:{k % self.places + self.LOW}"


def ctc_best_paths(model, memory, mask):
    """The CTC head's best path of each row ([B,S,D] encoder memory, [B,S] mask): class ids with
    repeats merged and blanks (0) dropped, the padding's sub-positions left out."""
    b, s, _ = memory.shape
    best = model.ctc(memory).view(b, -1, model.ctc_classes).argmax(-1)
    lengths = (mask.sum(1) * (best.size(1) // s)).tolist()
    return [collapse_ctc(best[k, :lengths[k]].tolist()) for k in range(b)]


def collapse_ctc(path):
    out, prev = [], 0
    for c in path:
        if c != prev and c != 0:
            out.append(c)
        prev = c
    return out


def lmx_names(umt):
    """The LMX tokens in umt's order, as names."""
    try:
        return umt_vocabulary(umt, "lmx")
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"{umt}: cannot list the LMX vocabulary ({e}); build umt or give --umt")
