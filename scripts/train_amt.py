#!/usr/bin/python3
"""Trains the A2I translator's hearing (issue 19): audio in as log-mel features, an onsets-and-
frames head on the encoder, and the decoder's MIDI token loss on the same 4.096 s windows.

  OPENBLAS_CORETYPE=SkylakeX scripts/train_amt.py --data DATA --run RUN --minutes 20 \
      [--init models/default] [--frame-loss 1] [--token-loss 0.1] [--threads 2]

DATA is a data factory build at 16 kHz (`scripts/build_dataset.py --audio-only --audio-rate
16000`); windows come from train.jsonl, the dev evaluation from dev_eval.jsonl (the evaluation
SoundFont + reverb, never trained on). --init starts from a bundle's A2I (its encoder, decoder
and embeddings; the mel stem and frame head start fresh). Resumable: RUN/checkpoint.pt; the
curve (minutes, samples, dev onset F1) goes to RUN/curve.jsonl; RUN/model.pt (fp16, no
optimizer state) is what scripts/export_translators.py ships. The schedule is the translator
trainer's (AdamW, warm-up, cosine over --minutes).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umt_model.data import Frames  # noqa: E402
from umt_model.amt_data import WINDOW_SAMPLES, AmtWindows, midi_vocabulary  # noqa: E402
from umt_model.bundle import load_manifest  # noqa: E402
from umt_model.hearing import HOP, SAMPLE_RATE, WINDOW_FRAMES, frame_targets, notes_of  # noqa: E402
from umt_model import trainer  # noqa: E402
from umt_model.heap import steady_heap  # noqa: E402
from umt_model.network import Translator, default_network  # noqa: E402
from umt_model.vocab import MIDI, N_SLOTS, Layout  # noqa: E402


def collate(examples, frames):
    """[(wave, ids, notes, valid samples)] -> the Translator.forward arguments of a batch and its
    frame targets."""
    b = len(examples)
    streams = [frames.stream(MIDI, ids.astype(np.int64)) for _, ids, _, _ in examples]
    t = max(len(f) for f, _ in streams)
    tf = torch.zeros(b, t, N_SLOTS, dtype=torch.long)
    tp = torch.zeros(b, t, 2, dtype=torch.long)
    for k, (f, p) in enumerate(streams):
        tf[k, :len(f)] = torch.from_numpy(f)
        tp[k, :len(p)] = torch.from_numpy(p)
    wave = torch.from_numpy(np.stack([w for w, _, _, _ in examples]))
    length = torch.tensor([v for _, _, _, v in examples], dtype=torch.long)
    target = torch.full((b,), MIDI, dtype=torch.long)
    y = torch.from_numpy(np.stack([frame_targets(n, WINDOW_FRAMES) for _, _, n, _ in examples]))
    return wave, length, target, tf, tp, y


def onset_f1(ref, est, tolerance_s=0.05):
    """Note-onset F1 (pitch exact, each reference onset matched at most once within tolerance):
    mir_eval's onset-only transcription F1, as `umt eval notes` computes it."""
    import mir_eval

    def arr(notes):
        if not notes:
            return np.zeros((0, 2)), np.zeros(0)
        on = np.array([n[0] for n in notes], float)
        return np.stack([on, on + 0.1], 1), np.array([440.0 * 2 ** ((n[1] - 69) / 12) for n in notes])

    ri, rp = arr(ref)
    ei, ep = arr(est)
    if len(ri) == 0 or len(ei) == 0:
        return 0.0, 0.0, 0.0
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ri, rp, ei, ep, onset_tolerance=tolerance_s, offset_ratio=None)
    return p, r, f


class DevSet:
    """Fixed dev excerpts of dev_eval: `pieces` excerpts of `seconds` s (consecutive token windows
    of one piece, from its first second), transcribed through Translator.frame_probs (the windowing
    `umt amt` uses) and the note rule; reference onsets from the windows' tokens."""

    def __init__(self, windows, pieces=24, seconds=20.0, grid_s=0.5, ids=None):
        """ids: the pieces of an earlier run's dev set (kept in its checkpoint, so that a resumed run
        is measured on the same excerpts); otherwise `pieces` spread over the split."""
        step = max(1, len(windows.pieces) // pieces)
        known = [r["id"] for r in windows.pieces]
        chosen = [known.index(x) for x in ids] if ids else list(range(0, len(known), step))[:pieces]
        self.ids = [known[i] for i in chosen]
        self.items = []
        per = int(round(WINDOW_SAMPLES / SAMPLE_RATE / grid_s))  # grid points per window, e.g. 8
        for i in chosen:
            ws = windows.windows[i]
            first = min(2, len(ws) - 1)
            start_s = ws[first][0]
            ref = []
            w = first
            while w < len(ws) and ws[w][0] < start_s + seconds:
                s0 = ws[w][0]
                ref += [(s0 + on - start_s, p) for p, on, _, _ in ws[w][2]
                        if on is not None and s0 + on < min(start_s + seconds, s0 + per * grid_s)]
                w += per
            a = windows.audio[i]
            s = int(start_s * SAMPLE_RATE)
            x = a[s: s + int(seconds * SAMPLE_RATE)].astype(np.float32) / 32768.0
            self.items.append((torch.from_numpy(x), sorted(ref)))

    @torch.no_grad()
    def evaluate(self, model, thresholds=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)):
        """Onset F1 / precision / recall (%) over all excerpts at each note-rule threshold (onset
        and frame alike); the best threshold's figures first."""
        model.eval()
        probs = [(model.frame_probs(x, MIDI), ref) for x, ref in self.items]
        model.train()
        by = {}
        for th in thresholds:
            tp = fp = fn = 0.0
            for p, ref in probs:
                est = [(float(n[1]) * HOP / SAMPLE_RATE, int(n[0])) for n in notes_of(p, th, th)]
                _, r, _ = onset_f1(ref, est)
                matched = r * len(ref)
                tp, fn, fp = tp + matched, fn + len(ref) - matched, fp + len(est) - matched
            prec, rec = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
            by[th] = {"onset_f1": round(2 * prec * rec / max(prec + rec, 1e-9) * 100, 2),
                      "precision": round(prec * 100, 2), "recall": round(rec * 100, 2)}
        best = max(thresholds, key=lambda t: by[t]["onset_f1"])
        return dict(by[best], threshold=best, by_threshold={str(t): by[t]["onset_f1"] for t in thresholds})


def main():
    steady_heap()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="data factory build at 16 kHz (--audio-only is enough)")
    ap.add_argument("--run", required=True)
    ap.add_argument("--models", default="models/default", help="bundle whose vocabulary the tokens use")
    ap.add_argument("--init", help="a bundle folder (its A2I) or a run's model.pt / checkpoint.pt")
    ap.add_argument("--batch", type=int, default=8, help="windows of 4.096 s per step")
    ap.add_argument("--frame-loss", type=float, default=1.0, help="weight of the frame head's loss")
    ap.add_argument("--token-loss", type=float, default=0.1, help="weight of the decoder's MIDI token loss")
    ap.add_argument("--token-every", type=int, default=4,
                    help="the token loss on every N-th step only (the decoder costs ~2x the encoder per window)")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--encoder-layers", type=int, default=3)
    ap.add_argument("--decoder-layers", type=int, default=3)
    ap.add_argument("--mel-fine", type=int, default=0,
                    help="channels of the mel stem's fine-frequency branch (0 = none); zero-initialised, so a "
                         "continued model starts where it was")
    ap.add_argument("--harmonic", type=int, default=0,
                    help="channels of the frame head's harmonic-stack branch over the waveform (0 = none); "
                         "its last layer zero-initialised, so a continued model starts where it was")
    ap.add_argument("--pitch-shift", type=int, default=0, metavar="K",
                    help="shift windows by 1..K semitones up or down (resampled, notes moved with them); "
                         "only on the steps without the token loss")
    ap.add_argument("--shift-prob", type=float, default=0.5, help="share of windows shifted (with --pitch-shift)")
    ap.add_argument("--envelope", type=float, default=0.0, metavar="DB",
                    help="random spectral envelope of this range in dB (0 = none)")
    ap.add_argument("--envelope-prob", type=float, default=0.5, help="share of windows with it (with --envelope)")
    ap.add_argument("--umt", default="build/umt")
    ap.add_argument("--limit", type=int, default=0, help="at most this many training pieces (trials)")
    ap.add_argument("--dev-pieces", type=int, default=24)
    ap.add_argument("--dev-split", default="dev_eval", help="the manifest split of the dev excerpts")
    ap.add_argument("--dev-limit", type=int, default=0, help="draw the dev excerpts from the first N pieces (trials)")
    trainer.schedule_args(ap, warmup=200, eval_every=5, threads=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    # oneDNN: ~3x faster convolutions in the mel stem and the harmonic branch. Its one wrong backward
    # (GELU under a channels-last strided gradient, train_translator.py) does not occur in this network:
    # on one batch its gradients agree with the native kernels' to < 1e-4 in every convolution.
    torch.backends.mkldnn.enabled = True

    man = load_manifest(args.models)
    vocab = man["vocabulary"]
    layout = Layout(vocab)
    # code_vectors as the shipped A2I: its image-token embeddings (engraving, audio->image) carry over
    net = default_network(args.width, args.heads, args.encoder_layers, args.decoder_layers, audio_stem="mel",
                          code_vectors=True, mel_fine=args.mel_fine,
                          harmonic=args.harmonic)
    model = Translator(vocab, net)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=args.weight_decay)
    os.makedirs(args.run, exist_ok=True)
    ck_path = os.path.join(args.run, "checkpoint.pt")
    state = {"step": 0, "seconds": 0.0, "samples": {}, "frames": 0, "best_f1": -1.0}
    init_info = None
    average = trainer.averaging(model, args)
    resumed = trainer.resume(ck_path, model, opt, net, average=average)
    if resumed:
        state, init_info = resumed
    elif args.init:  # the shipped A2I of another audio stem carries over all but its stem
        init_info = trainer.init_from(model, args.init, "a2i", vocab, net, keep_out=("audio_stem", "mel_fine", "harmonic"))
    ids = midi_vocabulary(args.umt)
    train = AmtWindows(args.data, "train", args.umt, ids, limit=args.limit)
    dev = DevSet(AmtWindows(args.data, args.dev_split, args.umt, ids, limit=args.dev_limit),
                 pieces=args.dev_pieces, ids=state.get("dev_ids"))
    state["dev_ids"] = dev.ids
    print(f"train: {len(train.pieces)} pieces, {len(train.index)} windows; dev: {len(dev.items)} excerpts",
          file=sys.stderr, flush=True)
    frames = Frames(layout)
    rng = np.random.default_rng([args.seed, state["step"]])
    torch.manual_seed(args.seed * 1000 + state["step"])
    curve = open(os.path.join(args.run, "curve.jsonl"), "a")

    def save(best=False):
        info = {"direction": "a2i", "tasks": ["amt"], "step": state["step"], "samples": state["samples"],
                "minutes": round(state["seconds"] / 60, 1), "lr": args.lr, "ema": args.ema, "batch_windows": args.batch,
                "window_s": WINDOW_SAMPLES / SAMPLE_RATE, "frame_loss": args.frame_loss,
                "token_loss": args.token_loss, "token_every": args.token_every, "audio_stem": "mel",
                "pitch_shift": [args.pitch_shift, args.shift_prob] if args.pitch_shift else None,
                "envelope_db": [args.envelope, args.envelope_prob] if args.envelope else None,
                "best_dev": state.get("best")}
        body = {"model": model.state_dict(), "network": net, "vocabulary": vocab, "state": state,
                "init": init_info, "training": info}
        trainer.save(args.run, body, opt, best, average)

    def evaluate(final=False):
        d = dev.evaluate(model)
        best = d["onset_f1"] > state["best_f1"]
        if best:
            state["best_f1"], state["best"] = d["onset_f1"], dict(d, step=state["step"])
        curve.write(json.dumps({"step": state["step"], "minutes": round(state["seconds"] / 60, 2),
                                "samples": dict(state["samples"]), "dev": d, **({"final": True} if final else {})})
                    + "\n")
        curve.flush()
        print(f"dev step {state['step']} {state['seconds'] / 60:.1f} min {d}", file=sys.stderr, flush=True)
        return best

    def batch_loss():
        tokens = args.token_loss if state["step"] % max(args.token_every, 1) == 0 else 0.0
        shift = args.pitch_shift if tokens == 0 else 0  # a shifted window's tokens are the unshifted ones
        wave, length, target, tf, tp, y = collate(
            [train.sample(rng, shift, args.shift_prob, args.envelope, args.envelope_prob) for _ in range(args.batch)],
            frames)
        loss = model(wave, length, target, tf, tp, token_weight=tokens, frame_targets=y, frame_weight=args.frame_loss)
        return loss, len(wave)

    trainer.train(args, state, "amt", model, opt, batch_loss, save, evaluate, baseline=bool(args.init), average=average)


if __name__ == "__main__":
    main()
