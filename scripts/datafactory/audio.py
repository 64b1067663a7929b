"""Audio for the factory: rendering through `umt synth` (FluidSynth) and augmentation.

Augmentation is gain, a random three-band EQ and a small-room reverb (an exponentially
decaying noise impulse response), all in numpy so that it is deterministic per seed.
"""
import os
import subprocess

import numpy as np

from umt_model.media import read_wav, write_wav  # noqa: F401  (build.py reads and writes through here)

SOUNDFONT_DIR = "/usr/share/sounds/sf2"
TRAIN_SOUNDFONTS = ["FluidR3_GM.sf2", "TimGM6mb.sf2"]
EVAL_SOUNDFONT = "MuseScore_General.sf2"
EVAL_SOUNDFONT_CANDIDATES = ["/usr/share/sounds/sf2/MuseScore_General.sf2",
                             "/usr/share/sounds/sf3/MuseScore_General.sf3",
                             "/usr/share/sounds/sf2/MuseScore_General.sf3"]


def eval_soundfont():
    for p in EVAL_SOUNDFONT_CANDIDATES:
        if os.path.exists(p):
            return p
    return None


def synth(umt, midi_path, wav_path, soundfont, rate, reverb=False):
    cmd = [umt, "-q", "synth", midi_path, "-o", wav_path, "--engine", "fluidsynth",
           "--soundfont", soundfont, "--rate", str(rate), "--bits", "16"]
    if not reverb:
        cmd.append("--no-reverb")
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def _biquad(x, b, a):
    """Direct form I, vectorised through scipy when present (it is on Debian)."""
    from scipy.signal import lfilter
    return lfilter(b, a, x)


def _shelf(rate, f0, gain_db, high):
    # RBJ audio-EQ-cookbook shelving filters, slope 1.
    A = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / rate
    alpha = np.sin(w0) / 2 * np.sqrt(2)
    cw = np.cos(w0)
    s = 1 if high else -1
    b0 = A * ((A + 1) + s * (A - 1) * cw + 2 * np.sqrt(A) * alpha)
    b1 = -2 * s * A * ((A - 1) + s * (A + 1) * cw)
    b2 = A * ((A + 1) + s * (A - 1) * cw - 2 * np.sqrt(A) * alpha)
    a0 = (A + 1) - s * (A - 1) * cw + 2 * np.sqrt(A) * alpha
    a1 = 2 * s * ((A - 1) - s * (A + 1) * cw)
    a2 = (A + 1) - s * (A - 1) * cw - 2 * np.sqrt(A) * alpha
    return np.array([b0, b1, b2]) / a0, np.array([1, a1 / a0, a2 / a0])


def _peak(rate, f0, gain_db, q):
    A = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / rate
    alpha = np.sin(w0) / (2 * q)
    cw = np.cos(w0)
    b = np.array([1 + alpha * A, -2 * cw, 1 - alpha * A])
    a = np.array([1 + alpha / A, -2 * cw, 1 - alpha / A])
    return b / a[0], a / a[0]


def room_impulse(rate, rng, rt60_s):
    """A small room: a few early reflections, then exponentially decaying noise."""
    n = int(rate * rt60_s)
    t = np.arange(n) / rate
    ir = rng.normal(0, 1, n) * np.exp(-6.9 * t / rt60_s)
    ir[: int(0.005 * rate)] = 0
    for _ in range(6):
        k = int(rng.uniform(0.003, 0.03) * rate)
        if k < n:
            ir[k] += rng.uniform(0.3, 0.8) * rng.choice([-1, 1])
    ir /= np.sqrt(np.sum(ir ** 2)) + 1e-9
    ir[0] = 1.0
    return ir


def augment(x, rate, rng, reverb_prob=0.5, force_reverb=False):
    """(augmented audio, parameters). Peak-normalized to -1..-6 dBFS after gain."""
    params = {}
    y = np.asarray(x, dtype=np.float64)
    low = rng.uniform(-6, 6)
    high = rng.uniform(-6, 6)
    mid_f = rng.uniform(300, 3000)
    mid = rng.uniform(-4, 4)
    for b, a in (_shelf(rate, 200.0, low, False), _shelf(rate, min(6000.0, rate * 0.4), high, True),
                 _peak(rate, mid_f, mid, 1.0)):
        y = _biquad(y, b, a)
    params.update(eq_low_db=round(low, 2), eq_high_db=round(high, 2), eq_mid_hz=round(mid_f, 1), eq_mid_db=round(mid, 2))
    if force_reverb or rng.random() < reverb_prob:
        rt60 = rng.uniform(0.2, 0.6)
        wet = rng.uniform(0.15, 0.4)
        ir = room_impulse(rate, rng, rt60)
        from scipy.signal import fftconvolve
        rev = fftconvolve(y, ir)[: len(y)]
        y = (1 - wet) * y + wet * rev
        params.update(reverb_rt60_s=round(rt60, 3), reverb_wet=round(wet, 3))
    peak = np.max(np.abs(y)) + 1e-9
    target_db = rng.uniform(-6, -1)
    y = y / peak * 10 ** (target_db / 20)
    params["peak_dbfs"] = round(target_db, 2)
    return y.astype(np.float32), params


def shift_samples(x, max_shift, rng):
    """The paper's discretization shift for audio: drop 0..max_shift leading samples so
    codec frames fall at a different phase of the signal."""
    k = int(rng.integers(0, max_shift + 1))
    return x[k:], k
