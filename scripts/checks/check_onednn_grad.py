#!/usr/bin/python3
"""Does this machine's torch compute the pixel stem's gradients right? With oneDNN on (torch's
default on x86) and off, the same backward passes:
  - GELU alone, the incoming gradient strided channels-last (a permuted view), and contiguous;
  - a stack shaped like the pixel stem (4 stride-2 3x3 convolutions 1 -> 32 -> 64 -> 96 -> 128
    channels, GELU after each, no biases) on sparse ink of a system's size, whose output is
    permuted into columns as the stem's is, so its gradient arrives channels-last.

Debian's torch 1.13 here: outputs agree, but oneDNN's GELU backward is wrong for a channels-last
strided gradient (off by the gradient's own size; contiguous is exact), and through it every
weight gradient of the stack (100 %, at times 1e23, inf or NaN). Clipped with the rest of the
model, such gradients froze session 6's pixel-stem runs; the trainer therefore turns oneDNN off.
Prints one line per check and exits 1 if any is off.

  scripts/checks/check_onednn_grad.py [--trials 5]
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


def gelu_grad(x, upstream, mkldnn):
    torch.backends.mkldnn.enabled = mkldnn
    x = x.clone().requires_grad_(True)
    F.gelu(x).backward(upstream)
    return x.grad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    bad = 0
    x = torch.randn(2, 128, 12, 48, generator=gen)
    strided = torch.randn(2, 12, 48, 128, generator=gen).permute(0, 3, 1, 2)
    for name, up in (("channels-last", strided), ("contiguous", strided.contiguous())):
        err = relative(gelu_grad(x, up, True), gelu_grad(x, up, False))
        bad += err >= 1e-4
        print(f"GELU backward, {name} gradient: oneDNN vs native, max relative difference {err:.3g} "
              f"{'ok' if err < 1e-4 else 'WRONG'}")
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
        print(f"stem {h}x{w}: oneDNN vs native, max relative difference: output {fwd:.3g}, "
              f"weight gradients {err:.3g} {'ok' if ok else 'WRONG'}")
    print(f"{bad} check(s) wrong")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
