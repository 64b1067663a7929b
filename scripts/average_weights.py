#!/usr/bin/env python3
"""Averages the weights of runs that share a network and a start (a "model soup").

  scripts/average_weights.py RUN_A/model.pt RUN_B/model.pt [...] --out SOUP.pt

Two runs started from the same weights with other seeds (other batches, other augmentations) and
annealed on the same schedule end near each other; their mean is a third model that often reads
better than either, and it cost no more than the runs themselves: the two cores train the same line
at once. The inputs are run weights as the trainers write them (model.pt / best.pt: fp16 weights,
the network options, the vocabulary, the run's state); they must have the same network, vocabulary,
weight names and shapes, and the same start (their `init` record). Non-float tensors (BatchNorm's
step counters) are taken from the first. The output is written in the same form, so that
`train_omr.py --evaluate --init SOUP.pt` and `export_translators.py --i2a SOUP.pt` read it as a
run's weights; its state counts the minutes and samples of all the runs (what the soup cost), and
`averaged` names its parts. It is written whole or not at all, never over one of its inputs.
"""
import argparse
import os
import sys

import torch


def soup(bodies):
    """Run bodies ({"model", "network", "vocabulary", "state", "init", ...}) -> their average, or
    ValueError naming what differs."""
    first = bodies[0]
    for n, b in enumerate(bodies[1:], 2):
        for key in ("network", "vocabulary", "init"):
            if b.get(key) != first.get(key):
                raise ValueError(f"input {n}: another {key} than input 1's")
        if b["model"].keys() != first["model"].keys():
            raise ValueError(f"input {n}: other weight names than input 1's")
        for name, w in b["model"].items():
            if w.shape != first["model"][name].shape:
                raise ValueError(f"input {n}: {name} is {tuple(w.shape)}, input 1's {tuple(first['model'][name].shape)}")
    model = {}
    for name, w in first["model"].items():
        if w.is_floating_point():
            mean = sum(b["model"][name].float() for b in bodies) / len(bodies)
            model[name] = mean.to(w.dtype)
        else:
            model[name] = w.clone()
    state = dict(first.get("state", {}))
    samples = {}
    for b in bodies:
        for task, count in b.get("state", {}).get("samples", {}).items():
            samples[task] = samples.get(task, 0) + count
    state["samples"] = samples
    state["seconds"] = sum(b.get("state", {}).get("seconds", 0.0) for b in bodies)
    state["step"] = sum(b.get("state", {}).get("step", 0) for b in bodies)
    body = dict(first, model=model, state=state)
    if "training" in first:  # the model card's record of the run: the soup's cost, all runs together
        body["training"] = dict(first["training"], samples=dict(samples), step=state["step"],
                                minutes=round(state["seconds"] / 60, 1))
    return body


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", help="run weights (RUN/model.pt, RUN/best.pt)")
    ap.add_argument("--out", required=True, help="the averaged weights (a new file)")
    args = ap.parse_args()
    if len(args.inputs) < 2:
        sys.exit("average_weights: give two or more run weights")
    out = os.path.realpath(args.out)
    if os.path.islink(args.out) or (os.path.exists(out) and not os.path.isfile(out)):
        sys.exit(f"{args.out}: not a plain file; the average is not written there")
    bodies = []
    for path in args.inputs:
        if os.path.realpath(path) == out:
            sys.exit(f"{path}: the output would replace this input")
        try:
            body = torch.load(path, map_location="cpu")
        except Exception as e:  # noqa: BLE001 - any unreadable input is reported as one line
            sys.exit(f"{path}: not a run's weights ({type(e).__name__}: {e})")
        if not isinstance(body, dict) or "model" not in body or "network" not in body:
            sys.exit(f"{path}: not a run's weights (no model or network)")
        bodies.append(body)
    try:
        body = soup(bodies)
    except ValueError as e:
        sys.exit(f"average_weights: {e}")
    body["averaged"] = [os.path.join(os.path.basename(os.path.dirname(os.path.abspath(p))), os.path.basename(p))
                        for p in args.inputs]  # RUN/model.pt: the run folders' names, not where they lie
    if "training" in body:
        body["training"]["averaged"] = body["averaged"]
    torch.save(body, out + ".tmp")
    os.replace(out + ".tmp", out)
    print(f"{args.out}: the mean of {len(bodies)} runs' weights "
          f"({sum(body['state']['samples'].values())} samples, {body['state']['seconds'] / 60:.1f} minutes in all)")


if __name__ == "__main__":
    main()
