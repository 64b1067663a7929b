#!/usr/bin/python3
"""Does this machine's torch compute convolution gradients right? A stack shaped like the pixel
stem (4 stride-2 3x3 convolutions, 1 -> 32 -> 64 -> 96 -> 128 channels, GELU, no biases) on sparse
ink of a system's size: its weight gradients by oneDNN (torch's default on x86) against the
native convolution, several times over.

Debian's torch 1.13 here: the outputs agree, but the oneDNN weight gradients are wrong whenever
the gradient arriving at the stem is strided channels-last — as it is in the pixel stem, whose
output is permuted into columns — off by 100 % and more, at times 1e23, inf or NaN. Clipped with
the rest of the model, such a gradient froze the pixel-stem runs of session 6; the trainer
therefore turns oneDNN off. Prints one line per trial and exits 1 if any trial is off.

  scripts/check_conv_grad.py [--trials 20]
"""
import argparse
import sys

import torch
import torch.nn.functional as F


def stem_grads(ink, weights, upstream, mkldnn):
    """The stem's output (flattened) and its weights' gradients for the upstream gradient."""
    torch.backends.mkldnn.enabled = mkldnn
    ws = [w.clone().requires_grad_(True) for w in weights]
    x = ink
    for w in ws:
        x = F.gelu(F.conv2d(x, w, None, 2, 1))
    x.backward(upstream)
    return x.detach().flatten(), torch.cat([w.grad.flatten() for w in ws])


def relative(a, b):
    return float((a - b).abs().max()) / max(float(b.abs().max()), 1e-12)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    bad = 0
    for t in range(args.trials):
        h, w = 16 * (12 + t % 5), 16 * (48 + 3 * t)
        ink = (torch.rand(2, 1, h, w, generator=gen) < 0.1).float() * torch.rand(2, 1, h, w, generator=gen)
        chans = [1, 32, 64, 96, 128]
        weights = [torch.randn(o, i, 3, 3, generator=gen) / (3 * i ** 0.5) for i, o in zip(chans, chans[1:])]
        # the stem's output is permuted into columns, so its gradient arrives channels-last
        upstream = torch.randn(2, h // 16, w // 16, 128, generator=gen).permute(0, 3, 1, 2)
        out_native, native = stem_grads(ink, weights, upstream, False)
        out_onednn, onednn = stem_grads(ink, weights, upstream, True)
        fwd, err = relative(out_onednn, out_native), relative(onednn, native)
        ok = bool(torch.isfinite(onednn).all()) and err < 1e-3 and fwd < 1e-4
        bad += not ok
        print(f"trial {t:2d} {h}x{w}: oneDNN vs native, max relative difference: output {fwd:.3g}, "
              f"weight gradients {err:.3g} {'ok' if ok else 'WRONG'}")
    print(f"{bad} of {args.trials} trials wrong")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
