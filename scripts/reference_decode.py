#!/usr/bin/python3
"""Greedy reference decoding of a bundle, for tests: requests JSON in, generated frames JSON out.

Request file: {"direction": "i2a", "target": "lmx", "max_steps": N, "prefix": [[4 ids]...],
"cached": true, "inputs": [{"frames": [[4 ids]...], "pos": [[a, b]...]}, ...]}; an input may be a
pixel image instead: {"height": H, "width": W, "ink": [H*W values 0..255]}.
Each input is decoded on its own (batch 1): the C++ batched loop must agree with it.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umt_model.bundle import load_manifest, load_translator  # noqa: E402
from umt_model.decode import greedy_decode  # noqa: E402
from umt_model.vocab import MODALITIES, Layout  # noqa: E402


def main():
    bundle, req_path, out_path = sys.argv[1:4]
    torch.set_num_threads(1)
    with open(req_path) as f:
        req = json.load(f)
    layout = Layout(load_manifest(bundle)["vocabulary"])
    model = load_translator(bundle, req.get("direction", "i2a"))
    target = MODALITIES.index(req["target"])
    outs = []
    for item in req["inputs"]:
        row = item if "ink" in item else (item["frames"], item["pos"])
        outs.append(greedy_decode(model, layout, [row], target, req["max_steps"],
                                  req.get("prefix"), req.get("cached", True))[0])
    with open(out_path, "w") as f:
        json.dump({"outputs": outs}, f)


if __name__ == "__main__":
    main()
