#!/usr/bin/python3
"""Trains one direction's translator (DESIGN.md sections 4 and 7) on the prepared tokens.

  i2a: image or MIDI in; LMX or audio out  - tasks omr (image->LMX), synth (MIDI->audio),
       i2a (image->audio)
  a2i: audio or LMX in; image or MIDI out  - tasks amt (audio->MIDI), engrave (LMX->image),
       a2i (audio->image)

The paper's recipe in small: a weighted task mixture with a curriculum (near tasks first, then
synthesis/engraving, then the far tasks; --tasks picks a subset, e.g. omr alone for the ablation),
AdamW with linear warm-up and cosine decay over the run (by steps, or by training minutes with
--minutes), batches by a frame budget grouped by length, teacher-forced dev loss per task on a
fixed dev set on a schedule (learning curve in RUN/curve.jsonl), a resumable RUN/checkpoint.pt and
an optimizer-free RUN/model.pt for export. One process on a CPU, or under torchrun on several
processes / GPUs (DDP) unchanged.

  OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE scripts/train_translator.py i2a \
      --tokens ../data/tokens-v1 --run ../data/runs/i2a-v1 --minutes 80
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umt_model.bundle import load_codec, load_manifest  # noqa: E402
from umt_model.data import TASKS, Tasks, load_split, make_batch, system_images  # noqa: E402
from umt_model import trainer  # noqa: E402
from umt_model.heap import steady_heap  # noqa: E402
from umt_model.network import Translator, default_network  # noqa: E402
from umt_model.targets import LmxEvents, lmx_names  # noqa: E402
from umt_model.vocab import AUDIO, IMAGE, LMX, MIDI, Layout  # noqa: E402

# Curriculum (progress of the run -> mixture weights): near tasks, + synthesis/engraving, + far tasks.
CURRICULUM = {
    "i2a": [(0.0, {"omr": 1.0}), (0.3, {"omr": 0.6, "synth": 0.4}),
            (0.55, {"omr": 0.45, "synth": 0.25, "i2a": 0.3})],
    "a2i": [(0.0, {"amt": 1.0}), (0.3, {"amt": 0.6, "engrave": 0.4}),
            (0.55, {"amt": 0.45, "engrave": 0.25, "a2i": 0.3})],
}


# ---------------------------------------------------------------- schedule

def mixture(direction, progress, only, start=0.0):
    """The task weights at this progress of the run; the curriculum begins at its point `start`."""
    point = start + (1 - start) * min(progress, 1.0)
    weights = {}
    for at, w in CURRICULUM[direction]:
        if point >= at:
            weights = w
    if only:
        weights = {t: weights.get(t, 0.0) for t in only}
        if sum(weights.values()) == 0:  # the subset's tasks are all in later phases: run them anyway
            weights = {t: 1.0 for t in only}
    return {t: w for t, w in weights.items() if w > 0}


# ---------------------------------------------------------------- main

def dist_setup(device_arg):
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(device_arg)
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world, rank, device


@torch.no_grad()
def dev_losses(model, dev_sets, device, events=None):
    """Dev loss per task (token loss, nats per token); with events, also the OMR batches' CTC loss
    (nats per target class) as "omr_ctc"."""
    model.eval()
    out = {}
    for task, batches in dev_sets.items():
        read = events is not None and TASKS[task][1:] == (IMAGE, LMX)
        tot, n, ctc = 0.0, 0, 0.0
        for b in batches:
            b = [x.to(device) for x in b]
            loss = model(*b)
            tot += float(loss) * len(b[0])
            n += len(b[0])
            if read:
                memory, mask = model.encode_source(b[0], b[1], b[2])
                ctc += float(model.ctc_loss(memory, mask, events.batch(b[3]).to(device))) * len(b[0])
        out[task] = round(tot / max(n, 1), 4)
        if read:
            out[task + "_ctc"] = round(ctc / max(n, 1), 4)
    model.train()
    return out


def main():
    steady_heap()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("direction", choices=["i2a", "a2i"])
    ap.add_argument("--tokens", required=True, help="folder of scripts/prepare_tokens.py")
    ap.add_argument("--run", required=True, help="run folder (checkpoint.pt, model.pt, curve.jsonl)")
    ap.add_argument("--models", default="models/default", help="bundle whose vocabulary and codecs the tokens use")
    ap.add_argument("--tasks", default="", help="comma-separated subset of the direction's tasks (default: all)")
    ap.add_argument("--steps", type=int, default=0, help="run length in steps (cosine schedule over them)")
    ap.add_argument("--budget", type=int, default=6000, help="frames per batch (per process)")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--encoder-layers", type=int, default=3)
    ap.add_argument("--decoder-layers", type=int, default=3)
    ap.add_argument("--image-stem", choices=["frames", "pixels", "pixels8"], default="pixels8",
                    help="image inputs: one encoder position per code frame, or a CNN over the system's pixels, "
                         "one position per 16-pixel column, or the residual column CNN of 8-pixel columns "
                         "(default, the shipped I2A's; the pixel stems need --data)")
    ap.add_argument("--data", help="the data factory's dataset folder (system images, for --image-stem pixels)")
    ap.add_argument("--ctc-loss", type=float, default=0.0,
                    help="weight of the auxiliary CTC loss over image columns (OMR batches): the note heads, "
                         "rests and barlines left to right; nats per target class, ~4 at the prior")
    ap.add_argument("--token-loss", type=float, default=1.0,
                    help="weight of the decoder's token loss; 0 trains the encoder on the auxiliary losses alone "
                         "(CTC pretraining of the image stem: --tasks omr --ctc-loss 1 --token-loss 0)")
    ap.add_argument("--umt", default="build/umt", help="the umt binary (for the LMX vocabulary of --ctc-loss)")
    ap.add_argument("--code-vectors", action="store_true",
                    help="image/audio codes also embed through the codecs' codebook vectors (learned projection)")
    ap.add_argument("--input-dropout", type=float, default=0.0,
                    help="blank this share of the decoder's teacher-forced LMX/MIDI inputs (not begin), so it "
                         "cannot write from its language model alone")
    ap.add_argument("--init", help="continue from an earlier run's model.pt / checkpoint.pt, or from a bundle folder's "
                    "translator (e.g. models/default), with a new schedule; the model card adds up the steps")
    ap.add_argument("--curriculum-from", type=float, default=0.0,
                    help="start the task curriculum at this point of it (0..1; the learning-rate schedule still "
                         "starts at 0): a continuation of a model that already did its near-task phase")
    ap.add_argument("--device", default="cpu")
    trainer.schedule_args(ap, warmup=300, eval_every=10, threads=1, minutes_required=False)
    args = ap.parse_args()
    if bool(args.steps) == bool(args.minutes):
        raise SystemExit("give --steps or --minutes")
    world, rank, device = dist_setup(args.device)
    torch.set_num_threads(args.threads)
    # Debian's torch 1.13: with oneDNN, GELU's backward is wrong for a channels-last strided
    # gradient — the pixel stem's, whose output is permuted into columns — and so is every stem
    # weight gradient behind it (up to 1e23, inf, NaN: scripts/checks/check_onednn_grad.py); clipped with
    # the rest, that froze the whole model. The native kernels are exact.
    torch.backends.mkldnn.enabled = False
    only = [t for t in args.tasks.split(",") if t]
    for t in only:
        if t not in TASKS or TASKS[t][0] != args.direction:
            raise SystemExit(f"--tasks: {t} is not a task of {args.direction}")

    man = load_manifest(args.models)
    vocab = man["vocabulary"]
    layout = Layout(vocab)
    events = None
    if args.ctc_loss > 0:
        names = lmx_names(args.umt)
        if len(names) != layout.codebook_size[LMX]:
            raise SystemExit(f"{args.umt}: {len(names)} LMX tokens; the bundle's vocabulary has {layout.codebook_size[LMX]}")
        events = LmxEvents(names, layout)
    net = default_network(args.width, args.heads, args.encoder_layers, args.decoder_layers,
                          image_stem=args.image_stem, code_vectors=args.code_vectors,
                          aux_ctc=events.classes if events else 0)
    os.makedirs(args.run, exist_ok=True)
    ck_path = os.path.join(args.run, "checkpoint.pt")
    model = Translator(vocab, net)
    if args.code_vectors:
        model.set_code_vectors(layout, {IMAGE: load_codec(args.models, "image").vq.codebooks,
                                        AUDIO: load_codec(args.models, "audio").vq.codebooks})
    model = model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=args.weight_decay)
    state = {"step": 0, "seconds": 0.0, "samples": {}, "frames": 0}
    init_info = None
    resumed = trainer.resume(ck_path, model, opt, net, announce=rank == 0)
    if resumed:
        state, init_info = resumed
    elif args.init:  # a bundle's shipped translator or an earlier run, on a new schedule
        init_info = trainer.init_from(model, args.init, args.direction, vocab, net)
    raw_model = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel
        # slot_masks is a constant bool buffer (the same on every rank); gloo cannot broadcast bools;
        # code_vectors is constant too (every rank reads the same codecs): no broadcast each step
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, ["slot_masks", "code_vectors"])
        # a batch of one task leaves other tasks' parts unused (the pixel stem, the CTC head)
        model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                        find_unused_parameters=True)

    pixels = args.image_stem == "pixels" and args.direction == "i2a"
    if pixels and not args.data:
        raise SystemExit("--image-stem pixels reads the system images: give --data")
    train = Tasks(load_split(args.tokens, "train"), layout, images=system_images(args.data, "train") if pixels else None)
    dev = Tasks(load_split(args.tokens, "dev"), layout, eval_audio=True,
                images=system_images(args.data, "dev") if pixels else None)
    tasks_all = only or [t for t, v in TASKS.items() if v[0] == args.direction]
    drng = random.Random(1234)
    dev_sets = {t: [make_batch(dev, t, args.budget, drng) for _ in range(6)] for t in tasks_all}
    rng = random.Random(args.seed * 1000 + rank + state["step"])
    torch.manual_seed(args.seed * 1000 + rank + state["step"])
    curve = open(os.path.join(args.run, "curve.jsonl"), "a") if rank == 0 else None

    def progress():
        if args.steps:
            return state["step"] / args.steps
        return state["seconds"] / (60 * args.minutes)

    def save():
        if rank != 0:
            return
        info = {"direction": args.direction, "tasks": tasks_all, "step": state["step"], "samples": state["samples"],
                "minutes": round(state["seconds"] / 60, 1), "frames": state["frames"], "world_size": world,
                "lr": args.lr, "budget_frames": args.budget, "curriculum": CURRICULUM[args.direction],
                "curriculum_from": args.curriculum_from,
                "input_dropout": args.input_dropout, "ctc_loss": args.ctc_loss, "token_loss": args.token_loss,
                "image_stem": args.image_stem,
                "skipped_steps": state.get("skipped", 0)}
        body = {"model": raw_model.state_dict(), "network": net, "vocabulary": vocab, "state": state,
                "init": init_info, "training": info}
        trainer.save(args.run, body, opt)

    last_save = last_eval = time.time()
    window_loss = {}
    t_prev = time.time()
    model.train()
    while True:
        stop = progress() >= 1.0
        if world > 1:
            import torch.distributed as dist
            flag = torch.tensor([1.0 if stop else 0.0], device=device)
            dist.all_reduce(flag)
            stop = flag.item() > 0
        if stop:
            break
        mix = mixture(args.direction, progress(), only, args.curriculum_from)
        names = sorted(mix)
        # every rank draws the same task (one task per step); each rank draws its own examples
        task = random.Random(args.seed * 1000003 + state["step"]).choices(names, weights=[mix[t] for t in names])[0]
        batch = [x.to(device) for x in make_batch(train, task, args.budget, rng)]
        lr = trainer.learning_rate(args, state["step"], progress())
        for g in opt.param_groups:
            g["lr"] = lr
        tgt_in = None
        if args.input_dropout > 0 and batch[2][0] in (LMX, MIDI):
            tgt_in = batch[3].clone()
            drop = torch.rand(tgt_in.shape[:2], device=device) < args.input_dropout
            drop[:, 0] = False
            tgt_in[:, :, 0] = tgt_in[:, :, 0].masked_fill(drop, 0)  # PAD embeds to zero
        ctc = None
        if events is not None and TASKS[task][1:] == (IMAGE, LMX):
            ctc = events.batch(batch[3]).to(device)
        loss = model(*batch, tgt_input=tgt_in, ctc_targets=ctc, ctc_weight=args.ctc_loss, token_weight=args.token_loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # gradients are all-reduced: ranks agree
        if not torch.isfinite(norm):  # a non-finite step is skipped (and its batch kept for a look), not taken
            state["skipped"] = state.get("skipped", 0) + 1
            print(f"step {state['step']}: non-finite loss {float(loss):.3f} / gradient ({task}); skipped",
                  file=sys.stderr, flush=True)
            torch.save([x.cpu() for x in batch], os.path.join(args.run, f"nonfinite-rank{rank}.pt"))
            opt.zero_grad(set_to_none=True)
        else:
            opt.step()
        now = time.time()
        state["seconds"] += now - t_prev
        t_prev = now
        state["step"] += 1
        state["samples"][task] = state["samples"].get(task, 0) + len(batch[0]) * world
        state["frames"] += int((batch[0][:, :, 0] != 0).sum() + (batch[3][:, :, 0] != 0).sum()) * world
        if math.isfinite(float(loss)):
            window_loss.setdefault(task, []).append(float(loss))
        if rank == 0 and state["step"] % 50 == 0:
            msg = " ".join(f"{t} {np.mean(v):.3f}" for t, v in sorted(window_loss.items()))
            print(f"step {state['step']} {state['seconds'] / 60:.1f} min lr {lr:.2e} loss {msg}", file=sys.stderr,
                  flush=True)
            window_loss = {}
        if now - last_eval > 60 * args.eval_every:
            d = dev_losses(raw_model, dev_sets, device, events)
            if rank == 0:
                curve.write(json.dumps({"step": state["step"], "minutes": round(state["seconds"] / 60, 2),
                                        "samples": dict(state["samples"]), "dev_loss": d}) + "\n")
                curve.flush()
                print(f"dev {d}", file=sys.stderr, flush=True)
            last_eval = time.time()
            t_prev = time.time()  # evaluation time is not training time
        if now - last_save > 60 * args.save_every:
            save()
            last_save = time.time()
            t_prev = time.time()
    d = dev_losses(raw_model, dev_sets, device, events)
    if rank == 0:
        curve.write(json.dumps({"step": state["step"], "minutes": round(state["seconds"] / 60, 2),
                                "samples": dict(state["samples"]), "dev_loss": d, "final": True}) + "\n")
        print(f"done: step {state['step']}, dev {d}", file=sys.stderr)
    save()


if __name__ == "__main__":
    main()
