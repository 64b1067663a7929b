"""Training targets beside the decoder's tokens: the CTC targets of an OMR batch (the visible note
heads and rests of each system in reading order, and its barlines), the LMX vocabulary they
are read with, and the CTC head's reading of them (its best paths)."""
import re
import subprocess

import numpy as np
import torch

from .lmx_time import QUARTERS, Duration
from .seeing import COLUMN_PX
from .vocab import LMX, umt_vocabulary


DURATION_TYPES = ("breve", "whole", "half", "quarter", "eighth", "16th", "32nd", "64th")
DURATIONS = tuple(f"{t}{'.' * dotted}" for t in DURATION_TYPES for dotted in (0, 1)) + ("rest:measure",)


class LmxEvents:
    """The CTC targets of an OMR batch: each system's visible note heads and rests in reading order
    (by measure, then onset within the measure from the LMX durations, then pitch; grace notes just
    before their onset; invisible and
    backup/forward events keep time only), and a barline class after each measure.
    Classes: 0 blank, 1 barline, 2 rest, 3.. the LMX pitch tokens C0..B9.
    The same events' written durations, in the same order, are the targets of a second CTC head
    (timing; an aux_durations network): 0 blank, 1 barline, 2.. DURATIONS (the note type, longer
    than a breve as a breve and shorter than a 64th as a 64th, dotted or not, and the measure rest)."""

    duration_classes = 2 + len(DURATIONS)

    def __init__(self, names, layout=None):
        self.names = names
        self.start, self.size = (layout.block_start[LMX], layout.codebook_size[LMX]) if layout else (0, len(names))
        steps = "CDEFGAB"
        pitches = [n for n in names if re.fullmatch(r"[A-G][0-9]", n)]
        pitches.sort(key=lambda n: int(n[1]) * 7 + steps.index(n[0]))
        self.pitch_class = {n: 3 + k for k, n in enumerate(pitches)}
        self.classes = 3 + len(pitches)
        self.labels = ["-", "|", "rest"] + pitches
        self.duration_labels = ["-", "|"] + list(DURATIONS)

    @staticmethod
    def duration_class(d, measure_rest):
        """The timing class of a written duration (lmx_time.Duration after its tokens)."""
        if measure_rest:
            return 2 + len(DURATIONS) - 1
        k = min(range(len(DURATION_TYPES)), key=lambda j: abs(QUARTERS[DURATION_TYPES[j]] - d.base)) if d.base else 3
        return 2 + 2 * k + int(d.dots > 0)

    def timing(self, ids):
        """LMX ids (one system) -> the timing classes of its events in reading order (the events
        of `of`, each by its written duration; barlines 1)."""
        return [c for c, _ in self.indexed(ids, timing=True)]

    def label(self, c):
        return self.labels[c]

    def of(self, ids):
        """LMX ids (one system) -> class ids in reading order."""
        return [c for c, _ in self.indexed(ids)]

    def indexed(self, ids, timing=False):
        """LMX ids (one system) -> (class id, index in ids of the token it stands for) in reading
        order: a note head's or rest's own pitch / rest token, a barline's the "measure" token that
        follows it (None for the system's last barline); with timing, each event's timing class and
        its type token (or measure rest) instead."""
        out, measure = [], []
        t = last_onset = 0.0
        d = Duration()
        ev = None  # (kind, grace, chord, hidden, index) of the event being read; its duration follows it
        typed = [None, False]  # index of the event's type token, and whether it is a measure rest

        def flush():
            nonlocal t, last_onset
            if ev is None:
                return
            kind, grace, chord, hidden, where = ev
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
                    own = (2 if kind == "rest" else self.pitch_class[kind], where)
                    timed = (self.duration_class(d, typed[1]), where if typed[0] is None else typed[0])
                    measure.append((round(onset, 6), own, timed))

        prefix = {"grace": False, "chord": False, "hidden": False}
        for i, name in enumerate(self.names[k] for k in ids):
            if name == "measure":
                flush()
                ev = None
                if measure or out:
                    out.extend(timed if timing else own for _, own, timed in sorted(measure))
                    out.append((1, i))
                measure, t, last_onset = [], 0.0, 0.0
            elif name in ("print-object:no", "grace", "chord"):
                prefix["hidden" if name == "print-object:no" else name] = True
            elif name in ("rest", "backup", "forward") or name in self.pitch_class:
                flush()
                ev = (name, prefix["grace"], prefix["chord"], prefix["hidden"], i)
                prefix = {"grace": False, "chord": False, "hidden": False}
                typed = [None, False]
                d.start()
            else:
                if name in QUARTERS or name == "rest:measure":
                    typed = [i, name == "rest:measure"]
                d.read(name)
        flush()
        if measure:
            out.extend(timed if timing else own for _, own, timed in sorted(measure))
            out.append((1, None))
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
        return padded_rows(rows)


def duration_columns(events, ids_list, found, columns, frames_per_column):
    """The dense duration target of a batch's columns (train_omr --duration-columns): which written
    durations (LmxEvents.timing's classes less blank and barline) begin in each column, placed where
    the CTC head's forced alignment of the reference reads each event (found: per example the first
    frame of each of its targets, targets.ctc_forced_frames; None: not aligned). -> [B, columns, K]
    float32, K = len(DURATIONS): 1 / 0, all -1 for an example without an alignment."""
    out = torch.zeros(len(ids_list), columns, len(DURATIONS))
    for k, (ids, frames) in enumerate(zip(ids_list, found)):
        if not frames:
            out[k] = -1.0
            continue
        for c, frame in zip(events.timing(ids), frames):
            col = frame // frames_per_column
            if c >= 2 and col < columns:
                out[k, col, c - 2] = 1.0
    return out


def padded_rows(rows):
    """Class-id lists (CTC targets, one per example) -> [B,L] long, 0 (padding) after each."""
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


def ctc_best_paths(model, memory, mask, timing=False):
    """The CTC head's best path of each row ([B,S,D] encoder memory, [B,S] mask): class ids with
    repeats merged and blanks (0) dropped, the padding's sub-positions left out. timing: the
    duration head's (an aux_durations network)."""
    b, s, _ = memory.shape
    head, classes = (model.dur_ctc, model.dur_classes) if timing else (model.ctc, model.ctc_classes)
    best = head(memory).view(b, -1, classes).argmax(-1)
    lengths = (mask.sum(1) * (best.size(1) // s)).tolist()
    return [collapse_ctc(best[k, :lengths[k]].tolist()) for k in range(b)]


@torch.no_grad()
def ctc_forced_frames(logp, targets, lengths):
    """The most probable CTC path of each row that reads exactly its targets (Viterbi): logp [B,F,C]
    log-probabilities over F frames (blank 0; frames beyond lengths[b] not read), targets a list of
    class-id lists -> per row, the first frame of each target on that path (None for a row whose
    targets do not fit its frames)."""
    b, f, _ = logp.shape
    lengths = [int(n) for n in lengths]
    s = max(1, 2 * max(len(t) for t in targets) + 1)
    ext = torch.zeros(b, s, dtype=torch.long)  # blank, t1, blank, t2, ..., blank
    states = torch.zeros(b, dtype=torch.long)
    for k, t in enumerate(targets):
        if t:
            ext[k, 1:2 * len(t):2] = torch.tensor(t, dtype=torch.long)
        states[k] = 2 * len(t) + 1
    valid = torch.arange(s)[None, :] < states[:, None]
    skip = torch.zeros(b, s, dtype=torch.bool)  # s-2 -> s: a target after a blank, unless it repeats the one before
    skip[:, 2:] = (ext[:, 2:] != 0) & (ext[:, 2:] != ext[:, :-2])
    emit = logp.float().gather(2, ext[:, None, :].expand(b, f, s)).numpy()  # [B,F,S]
    ninf = np.float32(-np.inf)
    blocked, no_skip = ~valid.numpy(), ~skip.numpy()
    dp = np.full((b, s), ninf, np.float32)
    dp[:, 0] = emit[:, 0, 0]
    if s > 1:
        dp[:, 1] = np.where(states.numpy() > 1, emit[:, 0, 1], ninf)
    back = np.zeros((f, b, s), dtype=np.int8)
    live = np.array(lengths)
    one, two = np.full((b, s), ninf, np.float32), np.full((b, s), ninf, np.float32)
    for i in range(1, f):  # numpy: a few microseconds a step where torch's small ops take tens
        one[:, 1:] = dp[:, :-1]
        two[:, 2:] = dp[:, :-2]
        two[no_skip] = ninf
        arg = (one > dp).astype(np.int8)  # ties keep the earlier state
        best = np.maximum(dp, one)
        further = two > best
        arg[further] = 2
        new = np.where(further, two, best) + emit[:, i]
        new[blocked] = ninf
        going = i < live
        dp[going] = new[going]
        arg[~going] = 0
        back[i] = arg
    out = []
    for k, t in enumerate(targets):
        n = int(states[k])
        last = n - 1 if n < 2 or dp[k, n - 1] >= dp[k, n - 2] else n - 2
        if not np.isfinite(dp[k, last]) or not t:
            out.append(None if t else [])
            continue
        first = [0] * len(t)
        state = last
        for i in range(max(lengths[k], 1) - 1, -1, -1):
            if state % 2 == 1:
                first[state // 2] = i
            if i > 0:
                state -= int(back[i, k, state])
        out.append(first)
    return out


@torch.no_grad()
def ctc_forced_events(model, memory, mask, targets):
    """The CTC head's forced path of each row ([B,S,D] encoder memory, [B,S] mask) over its targets
    (class-id lists, LmxEvents.of): per row the first frame of each target (ctc_forced_frames)."""
    b, s, _ = memory.shape
    logp = model.ctc(memory.detach().float()).view(b, s * model.ctc_up, model.ctc_classes).log_softmax(-1).cpu()
    return ctc_forced_frames(logp, targets, (mask.sum(1) * model.ctc_up).tolist())


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
