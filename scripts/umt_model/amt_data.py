"""AMT training data for the A2I's `features` input: windows of the data factory's performances.

A piece is its audio (16 kHz, as the factory wrote it with `--audio-rate 16000`) and its
performance MIDI; a window is 4.096 s of audio from a grid point of the piece, its MIDI tokens
(`umt tokens --requests`: the decoder's target, sustain pedal applied to note ends, the tie
section for notes sounding at its start) and the notes read back from those tokens (the frame
head's targets). Token windows are computed once per dataset and kept in a cache file beside it.
Augmentation on the fly: gain, three-band EQ, room reverb and noise (datafactory/audio.py); as
options, for timbres the two training SoundFonts do not have: a pitch shift by resampling (the
notes moved with it) and a random spectral envelope.
"""
import glob
import json
import os
import pickle
import sys

import numpy as np

from .hearing import HOP, SAMPLE_RATE, WINDOW_FRAMES
from .media import read_pcm16

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from datafactory import audio as factory_audio  # noqa: E402
from prepare_tokens import midi_ids, midi_vocabulary  # noqa: E402,F401  (midi_vocabulary: train_amt's import)

WINDOW_SAMPLES = WINDOW_FRAMES * HOP
WINDOW_S = WINDOW_SAMPLES / SAMPLE_RATE
TICK_S = 0.01  # MIDI token shifts (include/umt/tokens/midi_tokens.hpp kTickSeconds)


def window_tokens(umt, requests):
    """[(midi path, start_s, window_s)] -> token-name lists (prepare_tokens.midi_ids: one `umt tokens` call)."""
    return [t.split() for t in midi_ids(umt, requests)]


def notes_from_tokens(names):
    """A window's MIDI token names -> [(pitch, onset_s or None, offset_s or None, velocity)]: None
    onset = sounding from the window start (tie section), None offset = still sounding at its end."""
    notes, sounding = [], {}
    t, vel, tie, drum = 0.0, 0, "tie" in names, False
    for name in names:
        kind, _, value = name.partition(":")
        if name == "tie":
            tie = False
        elif name == "drum":
            drum = True
        elif kind == "program":
            drum = False
        elif kind == "shift":
            t = int(value) * TICK_S
        elif kind == "velocity":
            vel = int(value)
        elif kind == "pitch" and not drum:
            p = int(value)
            if tie:
                sounding[p] = (None, 0)
            elif vel > 0:
                if p in sounding:  # a re-strike ends the sounding note
                    on, v = sounding.pop(p)
                    notes.append((p, on, t, v))
                sounding[p] = (t, vel)
            elif p in sounding:
                on, v = sounding.pop(p)
                notes.append((p, on, t, v))
    notes += [(p, on, None, v) for p, (on, v) in sounding.items()]
    return notes


def read_audio(path):
    """A factory WAV as int16 mono at SAMPLE_RATE (kept as int16: 29 h of training audio in memory)."""
    pcm, rate = read_pcm16(path)
    if pcm.shape[1] != 1 or rate != SAMPLE_RATE:
        raise SystemExit(f"{path}: expected 16-bit mono {SAMPLE_RATE} Hz (build with --audio-rate 16000)")
    return pcm[:, 0]


def factory_pieces(data, split):
    """The "score" records of one split (train, dev, dev_eval), sorted by id, read from each
    finished score's done.json: the split's manifest while the factory is still building (it
    writes the manifests at the end, from the same records)."""
    folder = "dev" if split == "dev_eval" else split
    out = []
    for path in sorted(glob.glob(os.path.join(data, "scores", folder, "*", "done.json"))):
        with open(path) as f:
            done = json.load(f)
        if done.get("ok"):
            out += [r for r in done["records"].get(split, []) if r["kind"] == "score"]
    if not out:
        raise SystemExit(f"{data}: no finished {split} pieces (scores/{folder}/*/done.json)")
    return sorted(out, key=lambda r: r["id"])


class AmtWindows:
    """Every piece of one manifest split (train, dev or dev_eval), its audio in memory and its
    token windows on a grid_s grid (cached in DATA/amt-windows-SPLIT.pkl)."""

    def __init__(self, data, split, umt, midi_ids, grid_s=0.5, limit=0):
        pieces = factory_pieces(data, split)
        if limit:
            pieces = pieces[:limit]
        cache = os.path.join(data, f"amt-windows-{split}-{grid_s:g}.pkl")
        table = {}
        if os.path.exists(cache):
            with open(cache, "rb") as f:
                table = pickle.load(f)
        todo = [r for r in pieces if r["id"] not in table]
        for k, r in enumerate(todo):
            starts = np.arange(0.0, max(r["duration_s"] - 1.0, 0.0) + 1e-9, grid_s)
            names = window_tokens(umt, [(os.path.join(data, r["performance_midi"]), float(s), WINDOW_S)
                                        for s in starts])
            table[r["id"]] = [(float(s), np.array([midi_ids[n] for n in w], np.int16), notes_from_tokens(w))
                              for s, w in zip(starts, names)]
            if (k + 1) % 50 == 0 or k + 1 == len(todo):  # kept as it goes: a long first pass resumes
                print(f"{split}: token windows of {k + 1}/{len(todo)} pieces", file=sys.stderr, flush=True)
                tmp = f"{cache}.{os.getpid()}.tmp"  # two trainers priming at once each write their own
                with open(tmp, "wb") as f:
                    pickle.dump(table, f)
                os.replace(tmp, cache)
        self.pieces = pieces
        self.windows = [table[r["id"]] for r in pieces]
        self.audio = [read_audio(os.path.join(data, r["audio"])) for r in pieces]
        self.index = [(i, w) for i, ws in enumerate(self.windows) for w in range(len(ws))]

    def window(self, i, w, rng=None, shift=0, envelope=0.0):
        """(waveform float32 [WINDOW_SAMPLES], token ids, notes, valid samples) of window w of piece
        i; with rng, augmented (gain, EQ, reverb, noise). shift: semitones, the audio resampled and
        the notes moved with it (pitch_shift; the token ids are then the unshifted window's, so a
        shifted window is for the frame head's loss alone). envelope: the random spectral
        envelope's range in dB (0 = none)."""
        start_s, ids, notes = self.windows[i][w]
        a = self.audio[i]
        s = int(round(start_s * SAMPLE_RATE))
        x = np.zeros(WINDOW_SAMPLES, np.float32)
        seg = a[s: s + WINDOW_SAMPLES].astype(np.float32) / 32768.0
        x[: len(seg)] = seg
        valid = WINDOW_SAMPLES
        if shift:
            x, notes, valid = pitch_shift(x, notes, shift)
        if rng is not None:
            if envelope > 0:
                x = spectral_envelope(x, rng, envelope)
            x = augment(x, rng)
        return x, ids, notes, valid

    def sample(self, rng, max_shift=0, shift_prob=0.0, envelope=0.0, envelope_prob=0.0):
        """A random window, augmented; with max_shift, shifted by a whole number of semitones in
        -max_shift..max_shift (not 0) with probability shift_prob; with envelope, a random spectral
        envelope of that range with probability envelope_prob."""
        i, w = self.index[int(rng.integers(0, len(self.index)))]
        k = 0
        if max_shift and rng.random() < shift_prob:
            k = int(rng.integers(1, max_shift + 1)) * (1 if rng.random() < 0.5 else -1)
        env = envelope if envelope > 0 and rng.random() < envelope_prob else 0.0
        return self.window(i, w, rng, shift=k, envelope=env)


def pitch_shift(x, notes, k):
    """One window [WINDOW_SAMPLES] shifted by k semitones by resampling (played 2^(k/12) times
    faster: every partial and the decay rates move together, a sampled piano of another size) ->
    (waveform [WINDOW_SAMPLES], its notes, valid samples). Down (k < 0): the first WINDOW_SAMPLES x
    2^(k/12) samples stretched to the whole window; notes starting after that part are dropped and
    those sounding past it end with the window (offset None). Up: the whole window compressed
    into its first WINDOW_SAMPLES / 2^(k/12) samples, zeros after them, valid = their count (the
    frame loss and the encoder read only those). Resampled in the frequency domain, so that
    nothing folds over the Nyquist frequency."""
    from scipy.signal import resample
    f = 2.0 ** (k / 12.0)
    if k < 0:
        y = resample(x[: int(round(WINDOW_SAMPLES * f))], WINDOW_SAMPLES)
        valid = WINDOW_SAMPLES
    else:
        valid = int(round(WINDOW_SAMPLES / f))
        y = np.zeros(WINDOW_SAMPLES, np.float64)
        y[:valid] = resample(x, valid)
    end = valid / SAMPLE_RATE
    out = []
    for p, on, off, v in notes:
        on2 = None if on is None else on / f
        off2 = None if off is None else off / f
        if on2 is not None and on2 >= end:
            continue
        if off2 is not None and off2 >= end:
            off2 = None
        out.append((p + k, on2, off2, v))
    return y.astype(np.float32), out, valid


def spectral_envelope(x, rng, range_db):
    """x filtered (zero phase, in the frequency domain) by a random smooth gain curve: values
    uniform in +-range_db/2 at 8 points spread evenly on a log-frequency axis from 30 Hz to 8 kHz,
    interpolated between them (and held beyond): a coarse resonance pattern, the part of timbre the
    factory's three-band EQ does not reach."""
    n = len(x)
    spec = np.fft.rfft(x)
    hz = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    points = np.linspace(np.log2(30.0), np.log2(8000.0), 8)
    gains = rng.uniform(-range_db / 2, range_db / 2, len(points))
    db = np.interp(np.log2(np.maximum(hz, 1.0)), points, gains)
    return np.fft.irfft(spec * 10 ** (db / 20), n).astype(np.float32)


def augment(x, rng):
    """On-the-fly augmentation of one window: EQ and reverb (the factory's, its reverb on a third of
    windows), white noise at 20-50 dB SNR on a quarter, and a gain of -18..+3 dB."""
    y, _ = factory_audio.augment(x, SAMPLE_RATE, rng, reverb_prob=0.33)
    if rng.random() < 0.25:
        rms = float(np.sqrt(np.mean(y ** 2))) + 1e-9
        y = y + rng.normal(0, rms * 10 ** (-rng.uniform(20, 50) / 20), len(y)).astype(np.float32)
    return (y * 10 ** (rng.uniform(-18, 3) / 20)).astype(np.float32)
