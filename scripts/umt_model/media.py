"""The one image reader and the one WAV reader/writer of the Python side (training, data factory,
evaluation): grayscale system images and 16-bit PCM WAV files, each failing with one line that
names the file."""
import math
import os
import wave

import numpy as np


def read_gray(path, pad16=False):
    """A grayscale image [H,W] uint8; pad16: padded white on the bottom and right to multiples of
    16 (the image codec's and the pixel stem's 16-px cells)."""
    import cv2
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError(f"{path}: cannot read the image")
    if pad16:
        h, w = img.shape
        ph, pw = -h % 16, -w % 16
        if ph or pw:
            img = np.pad(img, ((0, ph), (0, pw)), constant_values=255)
    return img


def read_pcm16(path):
    """The samples of a 16-bit PCM WAV as int16 [N, channels] and its rate."""
    with wave.open(path, "rb") as w:
        rate, ch, width, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
        raw = w.readframes(n)
    if width != 2:
        raise ValueError(f"{path}: expected 16-bit PCM, got {8 * width}-bit")
    return np.frombuffer(raw, dtype="<i2").reshape(-1, ch), rate


def read_wav(path):
    """A 16-bit PCM WAV as float32 mono in -1..1 (channels averaged) and its rate."""
    pcm, rate = read_pcm16(path)
    x = pcm.astype(np.float32) / 32768.0
    return (x[:, 0] if x.shape[1] == 1 else x.mean(axis=1)), rate


def write_wav(path, x, rate):
    """float mono samples (clipped to -1..1) -> a 16-bit PCM WAV, written whole or not at all."""
    y = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    pcm = (y * 32767.0).round().astype("<i2")
    tmp = path + ".tmp"
    with wave.open(tmp, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm.tobytes())
    os.replace(tmp, path)


def resample(x, rate, target):
    """float samples at `rate` -> at `target` (polyphase)."""
    if rate == target:
        return x
    from scipy.signal import resample_poly
    g = math.gcd(rate, target)
    return resample_poly(x, target // g, rate // g).astype(np.float32)
