#!/usr/bin/python3
"""Exports a model bundle (manifest.json + TorchScript files) into a folder.

Without --checkpoint it writes a randomly initialised bundle with the real interface and
shapes: tests and benchmarks export one into a temporary folder at run time.
Never export a random bundle into models/default: that folder holds trained bundles.

Trained codecs (scripts/train_codec.py writes RUN/codec.pt) go in with --image-codec and
--audio-codec; with --codecs-only the bundle holds only them (no translator yet):

  export_bundle.py models/default --codecs-only --staff-height 32 \
      --image-codec runs/image/codec.pt --audio-codec runs/audio/codec.pt --lmx-vocab VOCAB
Codec weights are stored in float16 (half the size on disk); umt loads them as float32.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umt_model.bundle import export_bundle, load_trained_codec, new_random  # noqa: E402
from umt_model.hearing import HOP, N_MELS, SAMPLE_RATE, WINDOW_FRAMES  # noqa: E402
from umt_model.network import default_network  # noqa: E402
from umt_model.vocab import PAD, RVQ_MODALITIES, Layout, default_params  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", help="bundle folder to write")
    ap.add_argument("--checkpoint", help="training checkpoint (torch.save dict with vocabulary, network, "
                    "modalities, translator/image_codec/audio_codec state dicts, training, metrics)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--encoder-layers", type=int, default=4)
    ap.add_argument("--decoder-layers", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=0, help="feed-forward width (default 4 x width)")
    ap.add_argument("--image-stem", choices=["frames", "pixels", "pixels8"], default="frames",
                    help="encoder positions of image inputs: code frames, a CNN over pixels (16-pixel "
                         "columns), or the residual column CNN (8-pixel columns)")
    ap.add_argument("--code-vectors", action="store_true", help="codes also embed through the codecs' codebook vectors")
    ap.add_argument("--cross-positions", action="store_true",
                    help="cross-attention keys and values carry the source positions' sinusoids (gated)")
    ap.add_argument("--column-sinusoids", action="store_true",
                    help="image columns' encoder input also gets their sinusoid (gated; pixel stems)")
    ap.add_argument("--locate", type=int, default=0, metavar="H",
                    help="location-aware decoding: each step told the column its last layer's first H heads "
                         "looked at on the step before (carried in the decoding cache)")
    ap.add_argument("--self-window", type=int, default=0, metavar="N",
                    help="the decoder's self-attention sees only its last N tokens and the first --self-sink (0 = all)")
    ap.add_argument("--self-sink", type=int, default=0, metavar="N")
    ap.add_argument("--aux-ctc", type=int, default=0, metavar="C",
                    help="classes of the I2A's training-only CTC head over image columns (0 = none)")
    ap.add_argument("--copy-ctc", type=int, default=0, metavar="H",
                    help="with --aux-ctc: the copy path from the CTC head's column reading under the last "
                         "decoder layer's first H heads (drawn, not zero, in a random bundle)")
    ap.add_argument("--aux-heads", type=int, default=0, metavar="K",
                    help="classes of the I2A's training-only dense head over image columns (0 = none)")
    ap.add_argument("--copy-heads", action="store_true",
                    help="with --aux-heads and --copy-ctc: the dense head's column probabilities join the copy path")
    ap.add_argument("--rhythm", type=int, default=0, metavar="C",
                    help="with --image-stem pixels8: channels of the rhythm branch to the encoder's output "
                         "(drawn, not zero, in a random bundle)")
    ap.add_argument("--audio-stem", choices=["tokens", "mel"], default="tokens",
                    help="audio inputs: codec tokens, or the waveform through a log-mel stem with a frame head")
    ap.add_argument("--harmonic", type=int, default=0,
                    help="with --audio-stem mel: channels of the frame head's harmonic-stack branch (0 = none)")
    ap.add_argument("--codebook-size", type=int, default=1024)
    ap.add_argument("--max-height", type=int, default=16, help="rows of an image system in codes")
    ap.add_argument("--max-length", type=int, default=1024, help="max frames of a 1-D sequence")
    ap.add_argument("--lmx-vocab", help="file with the LMX vocabulary, one token a line (umt's order)")
    ap.add_argument("--lmx-size", type=int, default=224)
    ap.add_argument("--midi-size", type=int, default=1387)
    ap.add_argument("--sample-rate", type=int, default=16000)
    ap.add_argument("--hop", type=int, default=320)
    ap.add_argument("--staff-height", type=int, default=18)
    ap.add_argument("--end-bias", type=float, default=0.0,
                    help="added to the output bias of the LMX and MIDI end tokens: makes random models "
                         "stop at varied lengths so tests exercise the stop rule")
    ap.add_argument("--rvq-end-bias", type=float, default=0.0,
                    help="the same for the end tokens of the image and audio codebooks")
    ap.add_argument("--image-codec", help="trained image codec (codec.pt from train_codec.py)")
    ap.add_argument("--audio-codec", help="trained audio codec (codec.pt from train_codec.py)")
    ap.add_argument("--codecs-only", action="store_true", help="a bundle with the codecs and no translator")
    ap.add_argument("--name", default=None, help="bundle name in the manifest")
    ap.add_argument("--metrics", help="JSON file merged into the manifest's metrics (the model card)")
    args = ap.parse_args()
    trained_codecs = {}
    for kind, path in (("image", args.image_codec), ("audio", args.audio_codec)):
        if path:
            trained_codecs[kind] = load_trained_codec(path, kind)
    if "image" in trained_codecs:
        args.codebook_size = trained_codecs["image"][1]["codebook_size"]
    if "audio" in trained_codecs:
        cfg = trained_codecs["audio"][1]
        args.sample_rate, args.hop = cfg["sample_rate"], cfg["hop_samples"]
        if "image" in trained_codecs and cfg["codebook_size"] != args.codebook_size:
            sys.exit("export_bundle: the image and audio codecs have different codebook sizes")
        args.codebook_size = cfg["codebook_size"]

    if args.checkpoint:
        ck = torch.load(args.checkpoint, map_location="cpu")
        vocab_params, network, modalities = ck["vocabulary"], ck["network"], ck["modalities"]
        model, image_codec, audio_codec = new_random(vocab_params, network, modalities)
        model.load_state_dict(ck["translator"])
        image_codec.load_state_dict(ck["image_codec"])
        audio_codec.load_state_dict(ck["audio_codec"])
        training, metrics = ck.get("training", {}), ck.get("metrics", {})
    else:
        lmx_tokens = None
        if args.lmx_vocab:
            with open(args.lmx_vocab) as f:
                lmx_tokens = [t for t in f.read().split("\n") if t]
        ml = args.max_length
        vocab_params = default_params(
            lmx_size=len(lmx_tokens) if lmx_tokens else args.lmx_size, midi_size=args.midi_size,
            image_codebook_size=args.codebook_size, audio_codebook_size=args.codebook_size,
            max_height=args.max_height,
            max_lengths={"lmx": ml, "midi": ml, "image": 2 * ml, "audio": ml, "image_columns": ml})
        if lmx_tokens:
            vocab_params["lmx_tokens"] = lmx_tokens
        network = default_network(args.width, args.heads, args.encoder_layers, args.decoder_layers,
                                  args.ffn or None, image_stem=args.image_stem,
                                  code_vectors=args.code_vectors, audio_stem=args.audio_stem,
                                  harmonic=args.harmonic, cross_positions=args.cross_positions,
                                  column_sinusoids=args.column_sinusoids, locate=args.locate,
                                  self_window=args.self_window, self_sink=args.self_sink,
                                  aux_ctc=args.aux_ctc, copy_ctc=args.copy_ctc, aux_heads=args.aux_heads,
                                  copy_heads=args.copy_heads, rhythm=args.rhythm)
        modalities = {
            "lmx": {"input": "tokens"},
            "midi": {"input": "tokens", "segment_s": 10.0},
            "image": {"input": "pixels" if args.image_stem in ("pixels", "pixels8") else "tokens",
                      "staff_height_px": args.staff_height, "downsample": 16},
            "audio": {"input": "tokens", "sample_rate": args.sample_rate, "hop_samples": args.hop},
        }
        if args.audio_stem == "mel":
            modalities["audio"].update(input="features", features={
                "sample_rate": SAMPLE_RATE, "hop_samples": HOP, "mel_bins": N_MELS,
                "window_s": WINDOW_FRAMES * HOP / SAMPLE_RATE})
        model, image_codec, audio_codec = new_random(vocab_params, network, modalities, args.seed)
        layout = Layout(vocab_params)
        with torch.no_grad():
            if args.copy_ctc:  # a trained copy path, not a fresh one's zero: it must show in what is decoded
                model.copy_proj.weight.copy_(torch.randn(model.copy_proj.weight.shape,
                                                         generator=torch.Generator().manual_seed(args.seed)))
            if model.rhythm_channels > 0:  # the same for the rhythm branch's projection
                model.rhythm_proj.weight.copy_(torch.randn(model.rhythm_proj.weight.shape,
                                                           generator=torch.Generator().manual_seed(args.seed + 1)))
            for m, ends in enumerate(layout.end):
                bias = args.rvq_end_bias if m in RVQ_MODALITIES else args.end_bias
                for e in set(ends) - {PAD}:
                    model.out.bias[e] += bias
            # BatchNorm of a fresh model is the identity: statistics measured on random sparse ink
            # and a drawn affine make a random column CNN behave as a trained one does, where paper
            # does not stay 0 (batch padding must still not change a result: tests/model/decode_test.cpp)
            norms = [mod for mod in model.pixel_cnn.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
            if norms:
                gen = torch.Generator().manual_seed(args.seed)
                for mod in norms:
                    mod.momentum = None  # a cumulative average over the calibration batches
                    mod.weight.copy_(0.5 + torch.rand(mod.num_features, generator=gen))
                    mod.bias.copy_(torch.rand(mod.num_features, generator=gen) - 0.5)
                model.pixel_cnn.train()
                for _ in range(4):
                    ink = (torch.rand(4, 1, 64, 128, generator=gen) < 0.2).float() * torch.rand(4, 1, 64, 128, generator=gen)
                    model.pixel_cnn(ink, torch.tensor([[4, 8]] * 4))
                model.pixel_cnn.eval()
                for mod in norms:
                    mod.momentum = 0.1
        training = {"note": f"randomly initialised (seed {args.seed}); not trained", "steps": 0}
        metrics = {}
    if trained_codecs:
        training = {"codecs": {kind: info for kind, (_, _, info) in trained_codecs.items()}}
        image_codec = trained_codecs["image"][0] if "image" in trained_codecs else image_codec
        audio_codec = trained_codecs["audio"][0] if "audio" in trained_codecs else audio_codec
    if args.metrics:
        with open(args.metrics) as f:
            metrics = dict(metrics, **json.load(f))
    translators = {} if args.codecs_only else {"i2a": model, "a2i": model}
    if args.codecs_only:
        network = {}
    name = args.name or ("random" if not (args.checkpoint or trained_codecs) else "trained")
    export_bundle(args.out, translators, image_codec, audio_codec, vocab_params, network,
                  modalities, training, metrics, name=name, half_codecs=bool(trained_codecs))


if __name__ == "__main__":
    main()
