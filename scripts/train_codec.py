#!/usr/bin/python3
"""Trains the image RQ-VAE or the audio RVQ codec on the data factory's train split.

  train_codec.py image --data DATASET --run RUNDIR [--minutes 60] [--steps 6000]
  train_codec.py audio --data DATASET --run RUNDIR [--minutes 60] [--steps 8000]

Resumable: RUNDIR/checkpoint.pt (weights, EMA codebook statistics, optimizer, step, random
states) is written every few minutes and at the end; running the same command again goes on
from it. RUNDIR/codec.pt holds only the weights and config (what export_bundle.py reads).
Runs on CPU by default and unchanged on a GPU (--device cuda).

Codebooks learn by EMA (decay 0.99) with dead-code restarts from the current batch; the
encoder is pulled toward its codes by a commitment loss, gradients pass the quantizer
straight through. Image loss: ink-weighted BCE + L1 + L1 of image gradients (keeps staff
lines and stems thin and sharp). Audio loss: multi-resolution log-mel L1 + log-STFT L1 +
spectral convergence.
"""
import argparse
import glob
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umt_model.codec import AudioCodec, ImageCodec  # noqa: E402
from umt_model.heap import steady_heap  # noqa: E402
from umt_model.media import read_gray, read_wav, resample  # noqa: E402


# ---------------------------------------------------------------- data

def train_records(data, kind):
    """Records of `kind` from the finished scores of the train split (reads done.json, so a
    dataset still being built can already be used)."""
    out = []
    for path in sorted(glob.glob(os.path.join(data, "scores", "train", "*", "done.json"))):
        with open(path) as f:
            done = json.load(f)
        if not done.get("ok"):
            continue
        out.extend(r for r in done["records"].get("train", []) if r.get("kind") == kind)
    return out


class ImageData:
    def __init__(self, data, max_images, scan_fraction, crop, rng):
        recs = train_records(data, "system")
        rng.shuffle(recs)
        self.clean, self.scan = [], []
        n_scan = int(max_images * scan_fraction)
        for r in recs:
            if len(self.clean) < max_images - n_scan:
                self.clean.append(read_gray(os.path.join(data, r["image"])))
            if r.get("image_scan") and len(self.scan) < n_scan:
                self.scan.append(read_gray(os.path.join(data, r["image_scan"])))
            if len(self.clean) >= max_images - n_scan and len(self.scan) >= n_scan:
                break
        self.scan_fraction = scan_fraction if self.scan else 0.0
        self.crop = crop
        self.rng = rng
        print(f"image data: {len(self.clean)} clean + {len(self.scan)} scan-like system crops", file=sys.stderr)

    def batch(self, n):
        h, w = self.crop
        out = np.full((n, 1, h, w), 255, np.uint8)
        for i in range(n):
            pool = self.scan if self.rng.random() < self.scan_fraction else self.clean
            img = pool[self.rng.randrange(len(pool))]
            for _ in range(8):  # prefer crops with ink
                y = self.rng.randrange(max(1, img.shape[0] - h + 1))
                x = self.rng.randrange(max(1, img.shape[1] - w + 1))
                patch = img[y:y + h, x:x + w]
                if (patch < 128).mean() > 0.02:
                    break
            out[i, 0, :patch.shape[0], :patch.shape[1]] = patch
        return torch.from_numpy(out).float().div_(255.0)


class AudioData:
    def __init__(self, data, max_scores, rate, segment, rng):
        recs = train_records(data, "score")
        rng.shuffle(recs)
        self.clips = []
        seen = set()
        for r in recs:
            if r["audio"] in seen:
                continue
            seen.add(r["audio"])
            x, sr = read_wav(os.path.join(data, r["audio"]))
            x = resample(x, sr, rate)
            if len(x) > segment:
                self.clips.append((np.clip(x, -1, 1) * 32767).astype(np.int16))
            if len(self.clips) >= max_scores:
                break
        self.weights = np.array([len(c) for c in self.clips], np.float64)
        self.weights /= self.weights.sum()
        self.segment = segment
        self.rng = rng
        self.np_rng = np.random.default_rng(rng.randrange(1 << 30))
        hours = sum(len(c) for c in self.clips) / rate / 3600
        print(f"audio data: {len(self.clips)} recordings, {hours:.2f} h at {rate} Hz", file=sys.stderr)

    def batch(self, n):
        out = np.zeros((n, self.segment), np.float32)
        for i in range(n):
            for _ in range(8):  # skip near-silent segments
                c = self.clips[self.np_rng.choice(len(self.clips), p=self.weights)]
                s = self.rng.randrange(len(c) - self.segment)
                seg = c[s:s + self.segment].astype(np.float32) / 32768.0
                if np.abs(seg).max() > 0.01:
                    break
            gain = 10 ** (self.rng.uniform(-12, 3) / 20)
            out[i] = np.clip(seg * gain, -1, 1)
        return torch.from_numpy(out)


# ---------------------------------------------------------------- EMA residual VQ training

class EmaQuantizer:
    """EMA codebook statistics for a codec's ResidualVQ (kept out of the exported module)."""

    def __init__(self, vq, decay=0.99, dead_fraction=0.2):
        self.vq = vq
        k, dim = vq.codebooks.shape[1], vq.codebooks.shape[2]
        self.count = torch.zeros(4, k)
        self.sums = torch.zeros(4, k, dim)
        self.decay = decay
        self.dead_fraction = dead_fraction  # restart codes used less than this fraction of uniform usage
        self.initialized = False
        self.usage = torch.zeros(4, k)  # assignment counts since the last report

    def state(self):
        return {"count": self.count, "sums": self.sums, "initialized": self.initialized}

    def load(self, st):
        self.count, self.sums, self.initialized = st["count"], st["sums"], st["initialized"]

    @torch.no_grad()
    def init_from(self, z):
        """Codebooks from random latents of the first batch, level by level (residuals)."""
        residual = z
        k = self.vq.codebooks.shape[1]
        for j in range(4):
            idx = torch.randint(0, residual.shape[0], (k,))
            cb = residual[idx] + 0.01 * residual.std() * torch.randn(k, residual.shape[1])
            self.vq.codebooks[j].copy_(cb)
            self.sums[j] = cb
            self.count[j] = 1.0
            dist = torch.cdist(residual, cb)
            residual = residual - cb[dist.argmin(1)]
        self.initialized = True

    def quantize(self, z, training, bypass=False):
        """z [N,C] -> straight-through quantized [N,C], commitment loss, codes list.
        bypass: no quantization (the autoencoder warm-up that precedes codebook initialisation)."""
        if bypass:
            return z, torch.zeros(()), None
        if training and not self.initialized:
            self.init_from(z.detach())
        codes, residuals, q = self.vq.levels(z.detach())
        if training:
            self.update(codes, residuals)
        commit = F.mse_loss(z, q.detach())
        return z + (q - z).detach(), commit, codes

    @torch.no_grad()
    def update(self, codes, residuals):
        k = self.vq.codebooks.shape[1]
        d = self.decay
        for j, (idx, r) in enumerate(zip(codes, residuals)):
            n = torch.bincount(idx, minlength=k).float()
            s = torch.zeros_like(self.sums[j]).index_add_(0, idx, r)
            self.count[j].mul_(d).add_(n, alpha=1 - d)
            self.sums[j].mul_(d).add_(s, alpha=1 - d)
            total = self.count[j].sum()
            smoothed = (self.count[j] + 1e-5) / (total + k * 1e-5) * total
            self.vq.codebooks[j].copy_(self.sums[j] / smoothed.unsqueeze(1))
            self.usage[j] += n
            # dead-code restart: codes used far less than uniform take random current residuals
            dead = self.count[j] < (n.sum() / k) * self.dead_fraction
            nd = int(dead.sum())
            if nd:
                pick = r[torch.randint(0, r.shape[0], (nd,))]
                pick = pick + 0.01 * r.std() * torch.randn_like(pick)
                self.vq.codebooks[j][dead] = pick
                self.sums[j][dead] = pick * (n.sum() / k)
                self.count[j][dead] = n.sum() / k

    def utilisation(self):
        """(fraction of codes used, perplexity) per level since the last call."""
        out = []
        for j in range(4):
            u = self.usage[j]
            p = u / u.sum().clamp(min=1)
            ent = -(p[p > 0] * p[p > 0].log()).sum()
            out.append((float((u > 0).float().mean()), float(ent.exp())))
        self.usage.zero_()
        return out


# ---------------------------------------------------------------- losses

def image_losses(codec, ema, x, training=True, bypass=False):
    z = codec.latents(x)  # [B,C,h,w]
    b, c, h, w = z.shape
    flat = z.permute(0, 2, 3, 1).reshape(-1, c)
    q, commit, codes = ema.quantize(flat, training, bypass)
    logits = codec.decode_latents(q.view(b, h, w, c).permute(0, 3, 1, 2))
    ink = 1.0 - x
    pred = torch.sigmoid(logits)
    weight = 1.0 + 4.0 * ink
    bce = F.binary_cross_entropy_with_logits(logits, ink, weight=weight)
    l1 = (pred - ink).abs().mean()
    grad = ((pred[..., 1:, :] - pred[..., :-1, :]) - (ink[..., 1:, :] - ink[..., :-1, :])).abs().mean() + \
           ((pred[..., 1:] - pred[..., :-1]) - (ink[..., 1:] - ink[..., :-1])).abs().mean()
    loss = bce + l1 + grad + 0.25 * commit
    return loss, {"bce": bce.item(), "l1": l1.item(), "grad": grad.item(), "commit": commit.item()}, 1.0 - pred


def mel_filterbank(n_fft, n_mels, rate, fmin=30.0):
    fmax = rate / 2
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)
    mels = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = np.linspace(0, fmax, n_fft // 2 + 1)
    fb = np.zeros((n_mels, n_fft // 2 + 1), np.float32)
    for m in range(n_mels):
        lo, ce, hi = hz[m], hz[m + 1], hz[m + 2]
        up = (bins - lo) / max(ce - lo, 1e-6)
        down = (hi - bins) / max(hi - ce, 1e-6)
        fb[m] = np.maximum(0, np.minimum(up, down))
    return torch.from_numpy(fb)


class SpectralLoss:
    """Multi-resolution log-mel L1, log-STFT L1, spectral convergence, and (flux > 0) the L1
    between positive log-mel differences over time (spectral flux): spurious or smeared note
    onsets show there first."""

    def __init__(self, rate, resolutions=((512, 64), (1024, 80), (2048, 128)), flux=0.0):
        self.flux = flux
        self.res = []
        for n_fft, n_mels in resolutions:
            self.res.append((n_fft, torch.hann_window(n_fft), mel_filterbank(n_fft, n_mels, rate)))

    def __call__(self, y, x):
        mel_l1 = stft_l1 = sc = 0.0
        for n_fft, win, fb in self.res:
            hop = n_fft // 4
            sy = torch.stft(y, n_fft, hop, n_fft, win, return_complex=True).abs()
            sx = torch.stft(x, n_fft, hop, n_fft, win, return_complex=True).abs()
            my = torch.matmul(fb, sy.clamp(min=0) ** 2)
            mx = torch.matmul(fb, sx ** 2)
            ly, lx = torch.log10(my + 1e-5), torch.log10(mx + 1e-5)
            mel_l1 = mel_l1 + (ly - lx).abs().mean()
            if self.flux > 0 and n_fft == 512:
                fy = torch.relu(ly[..., 1:] - ly[..., :-1])
                fx = torch.relu(lx[..., 1:] - lx[..., :-1])
                mel_l1 = mel_l1 + self.flux * len(self.res) * (fy - fx).abs().mean()
            stft_l1 = stft_l1 + (torch.log(sy + 1e-5) - torch.log(sx + 1e-5)).abs().mean()
            sc = sc + torch.linalg.norm(sy - sx) / torch.linalg.norm(sx).clamp(min=1e-5)
        n = len(self.res)
        return mel_l1 / n, stft_l1 / n, sc / n


def audio_losses(codec, ema, spectral, x, training=True, bypass=False):
    z = codec.latents(x)  # [B,T,C]
    b, t, c = z.shape
    q, commit, codes = ema.quantize(z.reshape(-1, c), training, bypass)
    y = codec.synthesize(q.view(b, t, c))
    mel_l1, stft_l1, sc = spectral(y, x)
    loss = mel_l1 + 0.5 * stft_l1 + sc + 0.25 * commit
    return loss, {"mel": mel_l1.item(), "stft": stft_l1.item(), "sc": sc.item(), "commit": commit.item()}, y


# ---------------------------------------------------------------- main

def save_atomic(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main():
    steady_heap()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["image", "audio"])
    ap.add_argument("--data", required=True, help="dataset folder from build_dataset.py")
    ap.add_argument("--run", required=True, help="run folder (checkpoints, log)")
    ap.add_argument("--steps", type=int, default=6000, help="length of the learning-rate schedule")
    ap.add_argument("--minutes", type=float, default=0, help="stop (with a checkpoint) after this wall time")
    ap.add_argument("--batch", type=int, default=0, help="default: 8 image crops / 16 audio segments")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--ae-warmup", type=int, default=300,
                    help="steps as a plain autoencoder before the codebooks start (from its latents)")
    ap.add_argument("--codebook-size", type=int, default=1024)
    ap.add_argument("--sample-rate", type=int, default=16000)
    ap.add_argument("--hop", type=int, default=320)
    ap.add_argument("--max-items", type=int, default=0, help="images / recordings held in memory")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--init", help="start from this codec.pt (weights and codebooks; fresh optimizer)")
    ap.add_argument("--flux", type=float, default=0.0, help="audio: weight of the spectral-flux (onset) loss")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    os.makedirs(args.run, exist_ok=True)
    ck_path = os.path.join(args.run, "checkpoint.pt")
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)

    if args.kind == "image":
        codec = ImageCodec(args.codebook_size)
        config = {"kind": "image", "codebook_size": args.codebook_size, "arch": codec.config}
        data = ImageData(args.data, args.max_items or 6000, 0.3, (128, 128), rng)
        batch = args.batch or 8
    else:
        codec = AudioCodec(args.codebook_size, args.hop)
        config = {"kind": "audio", "codebook_size": args.codebook_size, "arch": codec.config,
                  "sample_rate": args.sample_rate, "hop_samples": args.hop}
        data = AudioData(args.data, args.max_items or 400, args.sample_rate, 64 * args.hop, rng)
        spectral = SpectralLoss(args.sample_rate, flux=args.flux)
        batch = args.batch or 16
    codec.to(dev)
    ema = EmaQuantizer(codec.vq)
    opt = torch.optim.AdamW(codec.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=1e-4)
    step = 0
    samples = 0
    if args.init and not os.path.exists(ck_path):
        init = torch.load(args.init, map_location="cpu")
        codec.load_state_dict(init["model"])
        with torch.no_grad():
            ema.sums.copy_(codec.vq.codebooks)
            ema.count.fill_(1.0)
        ema.initialized = True
        config["init"] = {"from": os.path.abspath(args.init), **init.get("training", {})}
        print(f"initialised from {args.init}", file=sys.stderr)
    if os.path.exists(ck_path):
        ck = torch.load(ck_path, map_location="cpu")
        codec.load_state_dict(ck["model"])
        ema.load(ck["ema"])
        opt.load_state_dict(ck["optimizer"])
        step, samples = ck["step"], ck["samples"]
        rng.setstate(ck["rng"])
        torch.set_rng_state(ck["torch_rng"])
        print(f"resumed from {ck_path} at step {step}", file=sys.stderr)

    def lr_at(s):
        if s < args.warmup:
            return args.lr * (s + 1) / args.warmup
        p = min(1.0, (s - args.warmup) / max(1, args.steps - args.warmup))
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))

    def checkpoint():
        save_atomic({"model": codec.state_dict(), "ema": ema.state(), "optimizer": opt.state_dict(), "step": step,
                     "samples": samples, "rng": rng.getstate(), "torch_rng": torch.get_rng_state(),
                     "config": config}, ck_path)
        save_atomic({"model": codec.state_dict(), "config": config,
                     "training": {"steps": step, "samples": samples, "batch": batch, "data": os.path.abspath(args.data)}},
                    os.path.join(args.run, "codec.pt"))

    log = open(os.path.join(args.run, "train.log"), "a")
    t0 = time.time()
    last_ck = t0
    acc = {}
    n_acc = 0
    while step < args.steps:
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        x = data.batch(batch).to(dev)
        bypass = step < args.ae_warmup and not ema.initialized
        if step == args.ae_warmup and not ema.initialized:
            with torch.no_grad():  # codebooks from the latents of several fresh batches
                zs = [codec.latents(data.batch(batch).to(dev)) for _ in range(8)]
                c = zs[0].shape[1] if args.kind == "image" else zs[0].shape[2]
                zs = [z.permute(0, 2, 3, 1).reshape(-1, c) if args.kind == "image" else z.reshape(-1, c) for z in zs]
                ema.init_from(torch.cat(zs).cpu())
        if args.kind == "image":
            loss, parts, _ = image_losses(codec, ema, x, bypass=bypass)
        else:
            loss, parts, _ = audio_losses(codec, ema, spectral, x, bypass=bypass)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(codec.parameters(), 1.0)
        opt.step()
        step += 1
        samples += batch
        for k, v in parts.items():
            acc[k] = acc.get(k, 0.0) + v
        n_acc += 1
        if step % 50 == 0:
            util = ema.utilisation() if ema.initialized else [(0.0, 0.0)] * 4
            line = (f"step {step} lr {lr_at(step):.2e} " + " ".join(f"{k} {v / n_acc:.4f}" for k, v in acc.items()) +
                    " | used " + " ".join(f"{u:.2f}" for u, _ in util) + " | ppl " + " ".join(f"{p:.0f}" for _, p in util) +
                    f" | {time.time() - t0:.0f}s")
            print(line, file=sys.stderr, flush=True)
            log.write(line + "\n")
            log.flush()
            acc, n_acc = {}, 0
        now = time.time()
        if now - last_ck > args.checkpoint_minutes * 60:
            checkpoint()
            last_ck = now
        if args.minutes and now - t0 > args.minutes * 60:
            break
    checkpoint()
    print(f"stopped at step {step} ({samples} samples); wrote {args.run}/codec.pt", file=sys.stderr)


if __name__ == "__main__":
    main()
