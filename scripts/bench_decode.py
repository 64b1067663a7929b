#!/usr/bin/python3
"""Python side of bench/bench_decode.cpp: the reference greedy loop's speed on the same bundle.

Prints one JSON object: {"<batch>/<threads>/<cached|uncached>": steps_per_second, ...}.
Decoder steps count once per batch step (all rows of a batch advance together).
"""
import json
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umt_model.bundle import load_manifest, load_translator  # noqa: E402
from umt_model.decode import greedy_decode  # noqa: E402
from umt_model.vocab import AUDIO, MIDI, Layout, PositionTracker  # noqa: E402


def main():
    bundle, steps, input_len = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    layout = Layout(load_manifest(bundle)["vocabulary"])
    model = load_translator(bundle, "i2a")
    rng = random.Random(1)
    inputs = []
    for _ in range(8):
        t = PositionTracker(layout, MIDI)
        frames = [layout.begin[MIDI]] + [[layout.code(MIDI, 0, rng.randrange(layout.codebook_size[MIDI])), 0, 0, 0]
                                         for _ in range(input_len)] + [layout.end[MIDI]]
        inputs.append((frames, [t.next(f) for f in frames]))
    results = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch in (1, 8):
            for cached in (True, False):
                greedy_decode(model, layout, inputs[:batch], AUDIO, 4, cached=cached)  # warm-up
                t0 = time.perf_counter()
                out = greedy_decode(model, layout, inputs[:batch], AUDIO, steps, cached=cached)
                dt = time.perf_counter() - t0
                n = max(len(o) for o in out) + 1
                results[f"{batch}/{threads}/{'cached' if cached else 'uncached'}"] = min(n, steps) / dt
    print(json.dumps(results))


if __name__ == "__main__":
    main()
