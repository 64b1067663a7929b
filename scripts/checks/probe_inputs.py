#!/usr/bin/python3
"""Does a translator read its input? Teacher-forced dev loss per task with each example's own
input and with another example's input (the batch rotated by one). Equal losses mean the decoder
writes from its language model alone; the gap is how much the input informs it.
For a network with the CTC head (--ctc-loss), also the error rate of its greedy CTC reading of
the OMR examples' note heads, rests and barlines (edit distance / reference length, %): how well
the encoder alone reads the image, whatever the decoder makes of it.

  scripts/checks/probe_inputs.py --tokens TOKENS RUN/model.pt [RUN2/model.pt ...]
"""
import argparse
import os
import random
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from umt_model.data import TASKS, Tasks, collate, load_split, system_images  # noqa: E402
from umt_model.targets import LmxEvents, ctc_best_paths, lmx_names  # noqa: E402
from umt_model.network import Translator  # noqa: E402
from umt_model.vocab import Layout  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="model.pt files of scripts/train_translator.py")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--examples", type=int, default=24)
    ap.add_argument("--umt", default="build/umt", help="the umt binary (LMX vocabulary, for the CTC reading)")
    ap.add_argument("--data", help="the dataset folder (system images), for models with the pixel stem")
    args = ap.parse_args()
    torch.set_num_threads(1)
    dev = None
    readings = []
    print("| run | steps | task | dev loss, own input | dev loss, another example's input | gap |")
    print("|---|---|---|---|---|---|")
    for path in args.models:
        ck = torch.load(path, map_location="cpu")
        pixels = ck["network"].get("image_stem") == "pixels"
        if pixels and not args.data:
            raise SystemExit(f"{path}: reads pixels; give --data")
        if dev is None or (dev.images is not None) != pixels:
            dev = Tasks(load_split(args.tokens, "dev"), Layout(ck["vocabulary"]), eval_audio=True,
                        images=system_images(args.data, "dev") if pixels else None)
        model = Translator(ck["vocabulary"], ck["network"])
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ck["model"].items()})
        model.eval()
        for task in ck["training"]["tasks"]:
            rng = random.Random(5)
            exs = [dev.sample(task, rng) for _ in range(args.examples)]
            wrong = [(src, tgt) for (src, _), (_, tgt) in zip(exs[1:] + exs[:1], exs)]
            with torch.no_grad():
                a = float(model(*collate(exs, TASKS[task][2])))
                b = float(model(*collate(wrong, TASKS[task][2])))
            run = os.path.basename(os.path.dirname(os.path.abspath(path)))
            print(f"| {run} ({os.path.basename(path)}) | {ck['state']['step']} | {task} | {a:.3f} | {b:.3f} | {b - a:+.3f} |",
                  flush=True)
            if task == "omr" and model.ctc_classes > 0:
                events = LmxEvents(lmx_names(args.umt), dev.L)
                readings.append((run, ck["state"]["step"], ctc_error(model, events, exs), ctc_error(model, events, wrong)))
    if readings:
        print("\n| run | steps | CTC note-head error rate, own image (%) | another example's image (%) |")
        print("|---|---|---|---|")
        for run, steps, own, other in readings:
            print(f"| {run} | {steps} | {own:.1f} | {other:.1f} |")


def edit_distance(a, b):
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


@torch.no_grad()
def ctc_error(model, events, examples):
    """Greedy CTC reading (best class per sub-position, repeats merged, blanks dropped) against the
    targets of LmxEvents: 100 x edit distance / reference length, summed over the examples."""
    src_f, src_p, target, tgt_f, _ = collate(examples, TASKS["omr"][2])
    memory, mask = model.encode_source(src_f, src_p, target)
    gold = events.batch(tgt_f)
    errors = total = 0
    for k, read in enumerate(ctc_best_paths(model, memory, mask)):
        ref = [c for c in gold[k].tolist() if c != 0]
        errors += edit_distance(read, ref)
        total += len(ref)
    return 100.0 * errors / max(total, 1)


if __name__ == "__main__":
    main()
