#!/usr/bin/python3
"""Puts trained translators (RUN/model.pt of scripts/train_translator.py) into a model bundle.

The bundle's codecs and vocabulary stay as they are (the translators were trained on their
tokens); the translators go in as TorchScript with float16 weights (umt loads them as float32),
and the manifest's model card gets each direction's training record and, with --metrics, the
measured figures.

  scripts/export_translators.py models/default --i2a runs/i2a/model.pt --a2i runs/a2i/model.pt \
      [--out DIR] [--name umt-v1] [--metrics metrics.json] [--amt-thresholds 0.5 0.5]

A direction left out keeps the bundle's translator file, network and training record as they are.
An A2I with the mel stem (scripts/train_amt.py) makes the bundle's audio input "features" (the
waveform itself at 16 kHz, 4.096 s windows) and its AMT decoder the frame head.
"""
import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umt_model.bundle import load_manifest, sha256_of, write_manifest  # noqa: E402
from umt_model.hearing import HOP, N_MELS, SAMPLE_RATE, WINDOW_FRAMES  # noqa: E402
from umt_model.network import Translator  # noqa: E402
from umt_model.trainer import lineage  # noqa: E402


# The spectral front ends of a waveform-reading network: their filters and windows are computed
# constants, kept in full precision so that the exported module's spectrum is the one it trained on.
FULL_PRECISION = ("mel_stem", "harmonic")
INPUT_SIDE = ("image_stem", "code_vectors", "aux_ctc", "aux_heads", "aux_durations", "copy_heads", "audio_stem", "mel_fine", "pixel_channels", "harmonic", "cross_positions", "column_sinusoids", "locate", "ctc_values", "self_window", "self_sink", "copy_ctc", "rhythm")  # input-side options a direction may set for itself


def tensors_of(module):
    """[(name, tensor)] of a module's parameters and buffers, the non-persistent ones included."""
    return list(module.named_parameters()) + list(module.named_buffers())


def load_run(path, vocab, direction):
    """A direction's model, network and training record: from a run's model.pt, or from a bundle
    folder's exported translator (its weights and manifest record as they are: the translator
    exported again with this code, e.g. a faster decoding step)."""
    if os.path.isdir(path):
        man = load_manifest(path)
        if man["vocabulary"] != vocab:
            raise SystemExit(f"{path}: another vocabulary than the bundle's")
        net = man.get("networks", {}).get(direction, man["network"])
        model = Translator(vocab, net)
        scripted = torch.jit.load(os.path.join(path, man["translators"][direction]))
        own = model.state_dict()
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in scripted.state_dict().items()
                               if k in own})
        model.eval()
        return model, net, dict(man.get("training", {}).get(direction, {}))
    ck = torch.load(path, map_location="cpu")
    if ck["vocabulary"] != vocab:
        raise SystemExit(f"{path}: trained on another vocabulary than the bundle's")
    model = Translator(vocab, ck["network"])
    weights = {k: v.float() if v.is_floating_point() else v for k, v in ck["model"].items()}
    # the rhythm branch's own head only trains: a run made before it existed keeps the fresh one
    weights.update((k, v) for k, v in model.state_dict().items() if k.startswith("rhythm_head.") and k not in weights)
    model.load_state_dict(weights)
    model.eval()
    info = dict(ck["training"])
    if ck.get("init"):
        info["continued_from"] = ck["init"]
        info["total_steps"] = info["step"] + ck["init"].get("steps", 0)
    info.update(lineage(ck=ck))  # what the model saw in all: this run and what it started from
    return model, ck["network"], info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", help="bundle with the codecs the translators were trained on")
    ap.add_argument("--i2a", help="model.pt of the i2a run, or a bundle folder whose I2A is exported again "
                                  "with this code (default: keep the bundle's file)")
    ap.add_argument("--a2i", help="model.pt of the a2i run, or a bundle folder (as --i2a)")
    ap.add_argument("--amt-thresholds", type=float, nargs=2, metavar=("ONSET", "FRAME"),
                    help="the frame head's note-rule thresholds recorded as the AMT defaults")
    ap.add_argument("--out", help="bundle folder to write (default: the input bundle, in place)")
    ap.add_argument("--name")
    ap.add_argument("--metrics", help="JSON merged into the manifest's metrics")
    args = ap.parse_args()
    out = args.out or args.bundle
    man = load_manifest(args.bundle)
    os.makedirs(out, exist_ok=True)
    if os.path.abspath(out) != os.path.abspath(args.bundle):
        for f in man["codecs"].values():
            shutil.copy(os.path.join(args.bundle, f), os.path.join(out, f))
    if not args.i2a and not args.a2i:
        raise SystemExit("give --i2a and/or --a2i")
    networks, training = dict(man.get("networks", {})), dict(man.get("training", {}))
    translators = dict(man["translators"])
    for direction in ("i2a", "a2i"):
        networks.setdefault(direction, man["network"])
    for direction, path in (("i2a", args.i2a), ("a2i", args.a2i)):
        fname = f"translator_{direction}.pt"
        if not path:  # kept as shipped
            if os.path.abspath(out) != os.path.abspath(args.bundle):
                shutil.copy(os.path.join(args.bundle, translators[direction]), os.path.join(out, fname))
            translators[direction] = fname
            continue
        model, net, info = load_run(path, man["vocabulary"], direction)
        full = {name: {k: t.clone() for k, t in tensors_of(getattr(model, name))}
                for name in FULL_PRECISION if net.get("audio_stem") == "mel"}
        scripted = torch.jit.script(model).half()
        with torch.no_grad():
            for name, kept in full.items():  # .half() rounded them: back to the values as computed
                for k, t in tensors_of(getattr(scripted, name).float()):
                    t.copy_(kept[k])
        torch.jit.save(scripted, os.path.join(out, fname))
        translators[direction] = fname
        networks[direction] = net
        training[direction] = info
    # One architecture (DESIGN.md section 4); its input-side options may differ by direction (the
    # pixel stem only matters to a model that reads images, the mel stem to one that hears, the CTC
    # head only trains), so each direction's network is recorded and "network" is the shared part.
    shared = {k: v for k, v in networks["i2a"].items() if k not in INPUT_SIDE}
    if shared != {k: v for k, v in networks["a2i"].items() if k not in INPUT_SIDE}:
        raise SystemExit("the two directions must share one architecture (DESIGN.md section 4)")
    man["network"] = shared
    man["networks"] = networks
    # How the I2A reads images (DESIGN.md section 4): codec tokens, or its own CNN over pixels.
    man["modalities"]["image"]["input"] = "pixels" if networks["i2a"].get("image_stem") in ("pixels", "pixels8") else "tokens"
    # How a page is cut for the I2A (umt systems --staff-bands): as the run's images were cut.
    if args.i2a:
        bands = training["i2a"].get("staff_bands", 0)
        if bands:
            man["modalities"]["image"]["staff_bands"] = bands
        else:
            man["modalities"]["image"].pop("staff_bands", None)
    # How the A2I hears audio: codec tokens, or the waveform through its own log-mel stem.
    if networks["a2i"].get("audio_stem") == "mel":
        man["modalities"]["audio"]["input"] = "features"
        man["modalities"]["audio"]["features"] = {"sample_rate": SAMPLE_RATE, "hop_samples": HOP, "mel_bins": N_MELS,
                                                  "window_s": WINDOW_FRAMES * HOP / SAMPLE_RATE}
        # The note rule's thresholds as given (tuned on dev for this A2I), else as the bundle had them:
        # exporting only the I2A must not reset the AMT's tuning.
        old = man.get("tasks", {}).get("amt", {})
        onset, frame = args.amt_thresholds or (old.get("onset_threshold", 0.5), old.get("frame_threshold", 0.5))
        man.setdefault("tasks", {})["amt"] = {"decoder": old.get("decoder", "frames"), "onset_threshold": onset,
                                              "frame_threshold": frame}
    else:
        man["modalities"]["audio"]["input"] = "tokens"
        man["modalities"]["audio"].pop("features", None)
        man.get("tasks", {}).pop("amt", None)
    man["translators"] = translators
    man["training"] = training
    man["torch_version"] = torch.__version__
    if args.name:
        man["name"] = args.name
    if args.metrics:
        with open(args.metrics) as f:
            man["metrics"] = dict(man.get("metrics", {}), **json.load(f))
    files = sorted(set(translators.values()) | set(man["codecs"].values()))
    man["files"] = {f: {"sha256": sha256_of(os.path.join(out, f)), "bytes": os.path.getsize(os.path.join(out, f))}
                    for f in files}
    write_manifest(out, man)
    print(f"{out}: translators {translators}", file=sys.stderr)


if __name__ == "__main__":
    main()
