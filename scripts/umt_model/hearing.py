"""How the A2I hears: audio in as log-mel features and an onsets-and-frames head on the encoder.

The translator's `features` input for the audio modality (DESIGN.md's encodings): the waveform
goes into the exported module, which computes its log-mel spectrogram itself (C++ and Python
cannot disagree), a small CNN turns each mel frame into one encoder position, and a frame head
on the encoder output predicts, per 16 ms frame and piano key, onset / sounding / offset
probabilities and the onset velocity (Hawthorne et al.'s Onsets and Frames, the frame stack
conditioned on the onsets). `notes_of` is the note rule, vectorised so that it runs inside the
TorchScript module: a note starts at an onset peak and lasts while its key sounds.
Written for torch 1.13 TorchScript.
"""
from typing import List, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

SAMPLE_RATE = 16000
N_FFT = 2048
HOP = 256  # 16 ms frames
N_MELS = 229
F_MIN, F_MAX = 30.0, 8000.0
KEYS = 88  # A0 (MIDI 21) .. C8 (108)
LOWEST_KEY = 21
WINDOW_FRAMES = 256  # 4.096 s windows, as the piano seq2seq transcriber's
MARGIN_FRAMES = 32  # each side of a window is context only when a long input is cut into windows
HEADS = ("onset", "frame", "offset", "velocity")
ONSET_POS_WEIGHT = 10.0  # frame_loss: weight of the rare positive onset and offset key-frames


def mel_filterbank(rate=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=F_MIN, fmax=F_MAX):
    """[n_mels, n_fft/2+1] triangular filters equally spaced on the HTK mel scale, area-normalised."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    bins = np.linspace(0, rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins[None] - lo) / (mid - lo)
    down = (hi - bins[None]) / (hi - mid)
    fb = np.maximum(0.0, np.minimum(up, down)) * (2.0 / (hi - lo))
    return torch.from_numpy(fb.astype(np.float32))


def power_spectrum(wave: Tensor, n_fft: int, hop: int, window: Tensor) -> Tensor:
    """[B,N] -> |STFT|^2 [B, n_fft/2+1, N//hop + 1], frame t centred on sample t * hop."""
    spec = torch.stft(wave, n_fft, hop, n_fft, window, True, "reflect", False, True, True)
    return spec.real ** 2 + spec.imag ** 2


class MelStem(nn.Module):
    """waveform [B,N] at 16 kHz -> one vector per 16 ms frame [B,N/256,D]: log-mel, then a CNN
    over time x frequency (3x3 convolutions, frequency reduced 8-fold) and a projection."""

    def __init__(self, d: int, channels: Tuple[int, int, int] = (16, 32, 48), fine: int = 0):
        """fine > 0: a second, shallow CNN of `fine` channels that keeps the frequency resolution
        (229 -> 114 bands: about one band per semitone in the piano's middle and upper range, where
        the main CNN's 8-fold reduction leaves one vector per ~4 semitones), its projection added to
        the main one. The projection starts at zero, so a trained stem continues exactly as it was
        and the branch adds only what lowers the loss (octave and semitone confusions)."""
        super().__init__()
        c1, c2, c3 = channels
        self.n_fft, self.hop = N_FFT, HOP  # attributes: TorchScript reads no module globals
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
        self.register_buffer("filters", mel_filterbank(), persistent=False)
        self.norm = nn.BatchNorm2d(1)
        # frequency halved by the first convolution's stride, then by two poolings: 229 -> 115 -> 57 -> 28
        self.cnn = nn.Sequential(
            nn.Conv2d(1, c1, 3, (1, 2), 1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(),
            nn.Conv2d(c1, c2, 3, 1, 1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d((1, 2)),
            nn.Conv2d(c2, c3, 3, 1, 1, bias=False), nn.BatchNorm2d(c3), nn.ReLU(), nn.MaxPool2d((1, 2)))
        self.proj = nn.Linear(c3 * (((N_MELS + 1) // 2) // 4), d)
        self.use_fine = fine > 0
        if fine > 0:
            self.fine = nn.Sequential(
                nn.Conv2d(1, fine, 3, 1, 1, bias=False), nn.BatchNorm2d(fine), nn.ReLU(),
                nn.Conv2d(fine, fine, 3, 1, 1, bias=False), nn.BatchNorm2d(fine), nn.ReLU(), nn.MaxPool2d((1, 2)))
            self.fine_proj = nn.Linear(fine * (N_MELS // 2), d, bias=False)
            nn.init.zeros_(self.fine_proj.weight)
        else:
            self.fine = nn.Sequential(nn.Identity())
            self.fine_proj = nn.Identity()
        self.ln = nn.LayerNorm(d)

    def log_mel(self, wave: Tensor) -> Tensor:
        """[B,N] -> [B,T,N_MELS] with T = N // HOP (frame t centred on sample t * HOP)."""
        power = power_spectrum(wave, self.n_fft, self.hop, self.window)  # [B, F, T+1]
        mel = torch.matmul(self.filters, power)[:, :, : wave.size(1) // self.hop]
        return torch.log(mel + 1e-6).transpose(1, 2)

    def forward(self, wave: Tensor) -> Tensor:
        mel = self.norm(self.log_mel(wave).unsqueeze(1))
        x = self.cnn(mel)  # [B,C,T,N_MELS/8]
        b, c, t, f = x.shape
        y = self.proj(x.permute(0, 2, 1, 3).reshape(b, t, c * f))
        if self.use_fine:
            z = self.fine(mel)  # [B,fine,T,N_MELS/2]
            y = y + self.fine_proj(z.permute(0, 2, 1, 3).reshape(b, t, z.size(1) * z.size(3)))
        return self.ln(y)


HARMONIC_FFT = 4096  # the harmonic branch's STFT: 3.9 Hz bins, so that low semitones are told apart
BINS_PER_SEMITONE = 3
HARMONICS = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0)  # basic-pitch's harmonic stack


def log_frequency_filterbank(rate=SAMPLE_RATE, n_fft=HARMONIC_FFT, bins_per_semitone=BINS_PER_SEMITONE,
                             harmonics=HARMONICS):
    """[n_log, n_fft/2+1] filters onto a log-frequency axis at bins_per_semitone, centred so that bin
    k * bins_per_semitone + (bins_per_semitone // 2) of the key range is piano key k's fundamental;
    the axis reaches from the lowest harmonic's shift below A0 to the highest one's above C8 (filters
    above the Nyquist frequency are zero). Each filter is a triangle one log bin wide on either side,
    widened to the STFT's own bin spacing where that is coarser (low frequencies), area-normalised."""
    below = int(round(-12 * bins_per_semitone * np.log2(min(harmonics))))
    above = int(round(12 * bins_per_semitone * np.log2(max(harmonics))))
    n_key = KEYS * bins_per_semitone
    k = np.arange(-below, n_key + above) - bins_per_semitone // 2
    centre = 440.0 * 2.0 ** ((LOWEST_KEY - 69) / 12.0 + k / (12.0 * bins_per_semitone))
    ratio = 2.0 ** (1.0 / (12.0 * bins_per_semitone))
    df = rate / n_fft
    bins = np.arange(n_fft // 2 + 1) * df
    half = np.maximum(centre * (ratio - 1.0), df)[:, None]  # the triangle's half width, Hz
    fb = np.maximum(0.0, 1.0 - np.abs(bins[None] - centre[:, None]) / half)
    fb[centre >= rate / 2] = 0.0
    fb /= np.maximum(fb.sum(1, keepdims=True), 1e-9)
    return torch.from_numpy(fb.astype(np.float32)), below


class HarmonicBranch(nn.Module):
    """waveform [B,N] -> frame-head logits [B,N/256,4,88] to add to FrameHead's: a pitch-equivariant
    view of the spectrum, as basic-pitch reads it. A log-frequency magnitude spectrogram at 3 bins
    per semitone is stacked at the harmonics 0.5, 1, 2 ... 7 of every bin (shifted copies as
    channels, so that at key k's bin the channels hold its fundamental and overtones), and the same
    convolutions run at every key: the network learns one note detector, not 88. The last layer
    starts at zero, so a trained frame head continues exactly as it was."""

    def __init__(self, channels: int = 16):
        super().__init__()
        c = channels
        self.n_fft, self.hop = HARMONIC_FFT, HOP
        self.register_buffer("window", torch.hann_window(HARMONIC_FFT), persistent=False)
        fb, below = log_frequency_filterbank()
        self.register_buffer("filters", fb, persistent=False)
        self.below = below
        self.shifts: List[int] = [int(round(12 * BINS_PER_SEMITONE * np.log2(h))) for h in HARMONICS]
        self.n_key_bins = KEYS * BINS_PER_SEMITONE
        self.norm = nn.BatchNorm2d(len(HARMONICS))
        # 3 x 3 over time x log-frequency bins, then to one cell per key (stride 3), then the keys an
        # octave below and above (dilation 12: octave errors) and five frames of time
        self.cnn = nn.Sequential(
            nn.Conv2d(len(HARMONICS), c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 3, (1, BINS_PER_SEMITONE), (1, 0), bias=False), nn.BatchNorm2d(2 * c), nn.ReLU(),
            nn.Conv2d(2 * c, 2 * c, (1, 3), 1, (0, 12), (1, 12), bias=False), nn.BatchNorm2d(2 * c), nn.ReLU(),
            nn.Conv2d(2 * c, 2 * c, (5, 1), 1, (2, 0), bias=False), nn.BatchNorm2d(2 * c), nn.ReLU())
        self.out = nn.Conv2d(2 * c, 4, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def stack(self, wave: Tensor) -> Tensor:
        """[B,N] -> [B,8,T,264]: log magnitude at each key-range bin of each harmonic."""
        mag = torch.sqrt(power_spectrum(wave, self.n_fft, self.hop, self.window) + 1e-12)
        logf = torch.log(torch.matmul(self.filters, mag)[:, :, : wave.size(1) // self.hop] + 1e-4)  # [B,L,T]
        parts: List[Tensor] = []
        for s in self.shifts:
            parts.append(logf[:, self.below + s: self.below + s + self.n_key_bins])
        return torch.stack(parts, 1).transpose(2, 3)

    def forward(self, wave: Tensor) -> Tensor:
        x = self.out(self.cnn(self.norm(self.stack(wave))))  # [B,4,T,88]
        return x.permute(0, 2, 1, 3)


class FrameHead(nn.Module):
    """Encoder states [B,T,D] -> logits [B,T,4,88]: onset, frame (sounding, conditioned on the onset
    and offset probabilities, gradient stopped as in Onsets and Frames), offset, velocity. `add`
    (broadcast to [B,T,4,88]) joins the logits before the frame stack reads the onsets: the
    harmonic branch's, or zeros."""

    def __init__(self, d: int):
        super().__init__()
        self.onset = nn.Linear(d, KEYS)
        self.offset = nn.Linear(d, KEYS)
        self.velocity = nn.Linear(d, KEYS)
        self.frame = nn.Linear(d + 2 * KEYS, KEYS)

    def forward(self, h: Tensor, add: Tensor) -> Tensor:
        on = self.onset(h) + add[:, :, 0]
        off = self.offset(h) + add[:, :, 2]
        cond = torch.cat([h, torch.sigmoid(on).detach(), torch.sigmoid(off).detach()], 2)
        return torch.stack([on, self.frame(cond) + add[:, :, 1], off, self.velocity(h) + add[:, :, 3]], 2)


def notes_of(probs: Tensor, onset_threshold: float, frame_threshold: float, lowest_key: int = 21) -> Tensor:
    """probs [T,4,88] (onset, frame, offset, velocity probabilities) -> notes [N,4]: MIDI pitch,
    onset and offset in frames (fractional: the onset peak is refined by a parabola through its
    neighbours), velocity 1..127; sorted by onset, then pitch.

    A note starts at a local maximum of its key's onset probability at or above onset_threshold
    and lasts until the first later frame whose sounding probability falls below frame_threshold
    or that starts the next note of the key (at least one frame)."""
    t = probs.size(0)
    on, fr, vel = probs[:, 0], probs[:, 1], probs[:, 3]
    prev = F.pad(on[:-1], [0, 0, 1, 0])
    nxt = F.pad(on[1:], [0, 0, 0, 1])
    peak = (on >= onset_threshold) & (on >= prev) & (on > nxt)
    brk = (fr < frame_threshold) | peak
    frames = torch.arange(t, device=probs.device).unsqueeze(1).expand(t, on.size(1))
    idx = torch.where(brk, frames, torch.full_like(frames, t))
    next_break = torch.flip(torch.cummin(torch.flip(idx, [0]), 0)[0], [0])  # first break at or after
    after = torch.cat([next_break[1:], torch.full_like(next_break[:1], t)], 0)  # first break after the frame
    where = peak.nonzero()  # [N,2] (frame, key), by frame then key
    f, k = where[:, 0], where[:, 1]
    p0, p1, p2 = prev[f, k], on[f, k], nxt[f, k]
    curve = p0 - 2 * p1 + p2
    delta = torch.where(curve < 0, 0.5 * (p0 - p2) / curve.clamp(max=-1e-6), torch.zeros_like(p1))
    onset = f.to(probs.dtype) + delta.clamp(-0.5, 0.5)
    offset = torch.maximum(after[f, k], f + 1).to(probs.dtype)
    velocity = (vel[f, k] * 127).round().clamp(1, 127)
    return torch.stack([(k + lowest_key).to(probs.dtype), onset, offset, velocity], 1)




def frame_targets(notes, n_frames, hop_s=HOP / SAMPLE_RATE):
    """notes [(pitch, onset_s or None for a note sounding from the start, offset_s or None for one
    still sounding at the end, velocity 0..127)] -> targets [n_frames, 4, 88] float32: onset 1 at
    the onset's frame, frame 1 while it sounds, offset 1 at the offset's frame, velocity/127 at the
    onset frame (elsewhere 0: the velocity loss reads onset frames only)."""
    y = np.zeros((n_frames, 4, KEYS), np.float32)
    for pitch, on, off, v in notes:
        k = pitch - LOWEST_KEY
        if not 0 <= k < KEYS:
            continue
        f0 = 0 if on is None else int(round(on / hop_s))
        f1 = n_frames if off is None else int(round(off / hop_s))
        if f0 >= n_frames:
            continue
        if on is not None:
            y[f0, 0, k] = 1.0
            y[f0, 3, k] = v / 127.0
        y[f0:max(f1, f0 + 1), 1, k] = 1.0
        if off is not None and f1 < n_frames:
            y[f1, 2, k] = 1.0
    return y


def frame_loss(logits: Tensor, targets: Tensor, valid: Tensor) -> Tensor:
    """logits, targets [B,T,4,88], valid [B,T] -> onset + frame + offset BCE (mean over keys and
    valid frames, summed over the three heads; onset and offset positives weighted
    ONSET_POS_WEIGHT) + velocity MSE at the target onsets."""
    keep = valid.unsqueeze(2).to(logits.dtype)
    n = keep.sum().clamp(min=1) * KEYS
    # Onsets and offsets are ~0.2 % of key-frames: weighted 10x, a short CPU run learns to fire at
    # them within hundreds of steps instead of thousands (the note rule's threshold is tuned on dev).
    pos_weight = torch.tensor([ONSET_POS_WEIGHT, 1.0, ONSET_POS_WEIGHT], dtype=logits.dtype,
                              device=logits.device).view(1, 1, 3, 1)
    bce = F.binary_cross_entropy_with_logits(logits[:, :, :3], targets[:, :, :3], reduction="none",
                                             pos_weight=pos_weight)
    loss = (bce * keep.unsqueeze(3)).sum() / n
    onsets = targets[:, :, 0] * keep
    vel = (torch.sigmoid(logits[:, :, 3]) - targets[:, :, 3]) ** 2
    return loss + (vel * onsets).sum() / onsets.sum().clamp(min=1)
