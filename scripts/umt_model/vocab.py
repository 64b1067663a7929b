"""The unified vocabulary and position layout (DESIGN.md section 3), computed from manifest parameters.

The C++ class umt::tokens::Vocabulary computes the same layout; tests/data/model/vocab_layout.json,
written by `python3 -m umt_model.vocab --golden FILE`, pins the two to each other.
"""
import argparse
import json

MODALITIES = ["lmx", "midi", "image", "audio"]
LMX, MIDI, IMAGE, AUDIO = 0, 1, 2, 3
RVQ_MODALITIES = (IMAGE, AUDIO)
N_SLOTS = 4
N_SPECIAL = 2  # begin, end: after the codes of each block (single stream) or codebook (RVQ)
PAD = 0


def default_params(lmx_size=224, midi_size=1387, image_codebook_size=1024, audio_codebook_size=1024,
                   max_height=16, max_lengths=None):
    return {
        "lmx_size": lmx_size,
        "midi_size": midi_size,
        "codebooks": N_SLOTS,
        "image_codebook_size": image_codebook_size,
        "audio_codebook_size": audio_codebook_size,
        "max_height": max_height,
        "max_lengths": max_lengths or {"lmx": 1024, "midi": 1024, "image": 2048, "audio": 1024,
                                       "image_columns": 512},
    }


class Layout:
    """Every id and position offset of the unified vocabulary; fields mirror the C++ accessors."""

    def __init__(self, params):
        self.params = params
        if params["codebooks"] != N_SLOTS:
            raise ValueError("frames have 4 slots: codebooks must be 4")
        nxt = 1
        self.block_start = [0] * 4
        self.codebook_size = [params["lmx_size"], params["midi_size"],
                              params["image_codebook_size"], params["audio_codebook_size"]]
        self.begin = [[0] * 4 for _ in range(4)]
        self.end = [[0] * 4 for _ in range(4)]
        for m in range(4):
            self.block_start[m] = nxt
            n = self.codebook_size[m]
            if m in RVQ_MODALITIES:
                for j in range(N_SLOTS):
                    cb = nxt + j * (n + N_SPECIAL)
                    self.begin[m][j] = cb + n
                    self.end[m][j] = cb + n + 1
                nxt += N_SLOTS * (n + N_SPECIAL)
            else:
                self.begin[m] = [nxt + n] + [PAD] * 3
                self.end[m] = [nxt + n + 1] + [PAD] * 3
                nxt += n + N_SPECIAL
        self.height_start = nxt
        self.max_height = params["max_height"]
        nxt += self.max_height
        self.sep = nxt
        self.size = nxt + 1
        ml = params["max_lengths"]
        # Position table A: one range per 1-D modality, then image columns; table B: 0 = none, 1 + row.
        self.pos_start = [0] * 4
        a = 0
        for m, key in ((LMX, "lmx"), (MIDI, "midi"), (AUDIO, "audio"), (IMAGE, "image_columns")):
            self.pos_start[m] = a
            a += ml[key]
        self.pos_range = [ml["lmx"], ml["midi"], ml["image_columns"], ml["audio"]]
        self.n_pos_a = a
        self.n_pos_b = 1 + self.max_height
        self.max_length = [ml["lmx"], ml["midi"], ml["image"], ml["audio"]]

    def code(self, m, j, c):
        """Id of code c of codebook j of an RVQ modality (or token c of a single-stream one, j = 0)."""
        if m in RVQ_MODALITIES:
            return self.block_start[m] + j * (self.codebook_size[m] + N_SPECIAL) + c
        return self.block_start[m] + c

    def height(self, h):
        return self.height_start + h - 1

    def is_whole_frame(self, tok):
        """SEP and height tokens fill all four slots of their frame."""
        return tok == self.sep or self.height_start <= tok < self.height_start + self.max_height

    def slot_mask(self, target, slot):
        """Allowed output ids for (target modality, slot), as a list of booleans of length size."""
        allowed = [False] * self.size
        m = target
        if m in RVQ_MODALITIES:
            cb = self.block_start[m] + slot * (self.codebook_size[m] + N_SPECIAL)
            for i in range(cb, cb + self.codebook_size[m]):
                allowed[i] = True
            allowed[self.end[m][slot]] = True
            if m == IMAGE and slot == 0:
                for h in range(1, self.max_height + 1):
                    allowed[self.height(h)] = True
                allowed[self.sep] = True
        elif slot == 0:
            for i in range(self.block_start[m], self.block_start[m] + self.codebook_size[m]):
                allowed[i] = True
            allowed[self.end[m][0]] = True
        else:
            allowed[PAD] = True
        return allowed

    def to_json(self):
        return {
            "params": self.params,
            "size": self.size,
            "pad": PAD,
            "block_start": dict(zip(MODALITIES, self.block_start)),
            "begin": dict(zip(MODALITIES, self.begin)),
            "end": dict(zip(MODALITIES, self.end)),
            "height_start": self.height_start,
            "sep": self.sep,
            "pos_start": dict(zip(MODALITIES, self.pos_start)),
            "n_pos_a": self.n_pos_a,
            "n_pos_b": self.n_pos_b,
            "mask_counts": {MODALITIES[m]: [sum(self.slot_mask(m, j)) for j in range(N_SLOTS)] for m in range(4)},
        }


class PositionTracker:
    """Positions of frames as they are appended to one sequence of a modality (C++: PositionTracker).

    1-D modalities: (pos_start + index, 0). Images: begin/SEP/height/end frames get (column, 0),
    code frames (column, 1 + row), read column by column with `rows` rows per column (set by the
    last height token, else max_height).
    """

    def __init__(self, layout, modality):
        self.L = layout
        self.m = modality
        self.index = 0
        self.column = 0
        self.row = 0
        self.rows = layout.max_height

    def next(self, frame):
        L = self.L
        if self.m != IMAGE:
            p = (L.pos_start[self.m] + min(self.index, L.pos_range[self.m] - 1), 0)
            self.index += 1
            return p
        tok = frame[0]
        col = min(self.column, L.pos_range[IMAGE] - 1)
        if L.height_start <= tok < L.height_start + L.max_height:
            self.rows = tok - L.height_start + 1
            self.row = 0
            return (L.pos_start[IMAGE] + col, 0)
        is_code = L.block_start[IMAGE] <= tok < L.block_start[IMAGE] + L.codebook_size[IMAGE]
        if not is_code:
            return (L.pos_start[IMAGE] + col, 0)
        p = (L.pos_start[IMAGE] + col, 1 + self.row)
        self.row += 1
        if self.row >= self.rows:
            self.row = 0
            self.column += 1
        return p


def umt_vocabulary(umt, modality):
    """The token names of one modality's block (lmx, midi) in umt's order: `umt info --vocabulary`,
    so that the Python side never writes the token table or its offsets down a second time."""
    import subprocess
    out = subprocess.run([umt, "info", "--vocabulary", modality], check=True, capture_output=True, text=True).stdout
    return out.split()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--golden", required=True, help="write the layout of the default parameters here")
    args = ap.parse_args()
    params = default_params()
    with open(args.golden, "w") as f:
        json.dump(Layout(params).to_json(), f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
