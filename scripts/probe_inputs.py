#!/usr/bin/python3
"""Does a translator read its input? Teacher-forced dev loss per task with each example's own
input and with another example's input (the batch rotated by one). Equal losses mean the decoder
writes from its language model alone; the gap is how much the input informs it.

  scripts/probe_inputs.py --tokens /work/data/tokens-v1 RUN/model.pt [RUN2/model.pt ...]
"""
import argparse
import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_translator import TASKS, Tasks, collate, load_split  # noqa: E402
from umt_model.network import Translator  # noqa: E402
from umt_model.vocab import Layout  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="model.pt files of scripts/train_translator.py")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--examples", type=int, default=24)
    args = ap.parse_args()
    torch.set_num_threads(1)
    dev = None
    print("| run | steps | task | dev loss, own input | dev loss, another example's input | gap |")
    print("|---|---|---|---|---|---|")
    for path in args.models:
        ck = torch.load(path, map_location="cpu")
        if dev is None:
            dev = Tasks(load_split(args.tokens, "dev"), Layout(ck["vocabulary"]), eval_audio=True)
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


if __name__ == "__main__":
    main()
