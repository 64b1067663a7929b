#!/usr/bin/python3
"""How much of the A2I's AMT error is the SoundFont: onset F1 on the same dev excerpts rendered
with the training SoundFonts (the factory's `dev` audio, FluidR3_GM or TimGM6mb, music never
trained on) and with the evaluation SoundFont (`dev_eval`, MuseScore_General + reverb, a timbre
never trained on).

  scripts/checks/amt_timbre_gap.py --data DATA [--model models/default | RUN/model.pt ...] [--pieces 24]

DATA is a data factory build at 16 kHz (`scripts/build_dataset.py --split dev --audio-only
--audio-rate 16000`). The excerpts are train_amt.py's dev set (the first 20 s from the piece's
third window of `--pieces` pieces spread over the split, the same pieces for both renders),
transcribed through the frame head as `umt amt` does; each model's best note-rule threshold per
render. Prints a table.
"""
import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import train_amt  # noqa: E402
from umt_model import trainer  # noqa: E402
from umt_model.bundle import load_manifest  # noqa: E402
from umt_model.network import Translator, default_network  # noqa: E402


def load_a2i(source, bundle):
    """A bundle folder's A2I, or a run's model.pt / checkpoint.pt (with the network it records)."""
    man = load_manifest(bundle)
    if os.path.isdir(source):
        man = load_manifest(source)
        net = dict(man.get("networks", {}).get("a2i", man["network"]))
    else:
        net = dict(torch.load(source, map_location="cpu")["network"])
    model = Translator(man["vocabulary"], default_network(**net))
    trainer.init_from(model, source, "a2i", man["vocabulary"], default_network(**net))
    model.eval()
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", nargs="+", default=["models/default"], help="bundle folders or run model files")
    ap.add_argument("--models", default="models/default", help="bundle whose vocabulary the tokens use")
    ap.add_argument("--pieces", type=int, default=24)
    ap.add_argument("--umt", default="build/umt")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = True
    ids = train_amt.midi_vocabulary(args.umt)
    sets = {}
    for split in ("dev", "dev_eval"):
        w = train_amt.AmtWindows(args.data, split, args.umt, ids)
        sets[split] = train_amt.DevSet(w, pieces=args.pieces)
    same = [x.removesuffix("-eval") for x in sets["dev_eval"].ids] == sets["dev"].ids
    if not same:
        raise SystemExit(f"{args.data}: the dev and dev_eval excerpts are not of the same pieces")
    rows = []
    for source in args.model:
        model = load_a2i(source, args.models)
        r = {split: d.evaluate(model) for split, d in sets.items()}
        rows.append((source, r))
        print(f"{source}: {r}", file=sys.stderr, flush=True)
    print(f"\n{args.pieces} dev excerpts of 20 s, the same pieces in both renders; onset F1 @50 ms (threshold)\n")
    print("| model | training SoundFonts (dev) | evaluation SoundFont (dev_eval) | gap |")
    print("|---|---|---|---|")
    for source, r in rows:
        a, b = r["dev"], r["dev_eval"]
        print(f"| {source} | {a['onset_f1']:.2f} ({a['threshold']}) | {b['onset_f1']:.2f} ({b['threshold']}) "
              f"| {a['onset_f1'] - b['onset_f1']:.2f} |")


if __name__ == "__main__":
    main()
