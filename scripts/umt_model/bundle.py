"""Writes a model bundle: TorchScript files plus manifest.json with hashes (DESIGN.md section 4)."""
import hashlib
import json
import os
import tempfile

import torch

from .codec import AudioCodec, ImageCodec
from .network import Translator
from .vocab import AUDIO, IMAGE, Layout

FORMAT = "umt-model-bundle"
FORMAT_VERSION = 1


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def script_translator(model):
    model.eval()
    return torch.jit.script(model)


def export_bundle(out_dir, translators, image_codec, audio_codec, vocab_params, network, modalities,
                  training=None, metrics=None, name="umt", half_codecs=False):
    """translators: {"i2a": Translator, "a2i": Translator} (the same object may serve both; {} for a
    codecs-only bundle). half_codecs stores codec weights as float16 (umt loads them as float32)."""
    os.makedirs(out_dir, exist_ok=True)
    files = {}
    written = {}
    entry = {}
    for direction, model in sorted(translators.items()):
        key = id(model)
        if key not in written:
            fname = "translator.pt" if len(set(map(id, translators.values()))) == 1 else f"translator_{direction}.pt"
            torch.jit.save(script_translator(model), os.path.join(out_dir, fname))
            written[key] = fname
        entry[direction] = written[key]
    codecs = {}
    for kind, codec in (("image", image_codec), ("audio", audio_codec)):
        codec.eval()
        fname = f"{kind}_codec.pt"
        scripted = torch.jit.script(codec)
        if half_codecs:
            scripted = scripted.half()
        torch.jit.save(scripted, os.path.join(out_dir, fname))
        codecs[kind] = fname
    for fname in sorted(set(entry.values()) | set(codecs.values())):
        path = os.path.join(out_dir, fname)
        files[fname] = {"sha256": sha256_of(path), "bytes": os.path.getsize(path)}
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "torch_version": torch.__version__,
        "vocabulary": vocab_params,
        "vocabulary_size": Layout(vocab_params).size,
        "network": network,
        "modalities": modalities,
        "translators": entry,
        "codecs": codecs,
        "files": files,
        "training": training or {},
        "metrics": metrics or {},
    }
    write_manifest(out_dir, manifest)
    return manifest


def write_manifest(out_dir, manifest):
    """manifest.json written whole or not at all (temporary file, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".json.tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, os.path.join(out_dir, "manifest.json"))


def load_trained_codec(path, kind):
    """(codec module, config, training info) from a codec.pt written by scripts/train_codec.py."""
    ck = torch.load(path, map_location="cpu")
    cfg = ck["config"]
    if cfg.get("kind") != kind:
        raise ValueError(f"{path}: a {cfg.get('kind')} codec, not {kind}")
    if kind == "image":
        codec = ImageCodec(cfg["codebook_size"], cfg["arch"])
    else:
        codec = AudioCodec(cfg["codebook_size"], cfg["hop_samples"], cfg["arch"])
    codec.load_state_dict(ck["model"])
    codec.eval()
    info = dict(ck.get("training", {}), arch=cfg["arch"], codebook_size=cfg["codebook_size"])
    if cfg.get("init"):  # fine-tuned from an earlier run: keep that run's record too
        info["initialised_from"] = cfg["init"]
        info["total_steps"] = info.get("steps", 0) + cfg["init"].get("steps", 0)
    return codec, cfg, info


def load_codec(bundle_dir, kind):
    """The bundle's TorchScript codec as float32 (weights may be stored as float16)."""
    m = load_manifest(bundle_dir)
    return torch.jit.load(os.path.join(bundle_dir, m["codecs"][kind])).float()


def load_manifest(bundle_dir):
    with open(os.path.join(bundle_dir, "manifest.json")) as f:
        return json.load(f)


def load_translator(bundle_dir, direction="i2a"):
    m = load_manifest(bundle_dir)
    return torch.jit.load(os.path.join(bundle_dir, m["translators"][direction]))


def new_random(vocab_params, network, modalities, seed=0):
    """A randomly initialised translator and codecs with the real interface and shapes."""
    torch.manual_seed(seed)
    model = Translator(vocab_params, network)
    # Training-style init (std 0.02 embeddings) gives a near-constant random decoder; wide
    # embeddings and output weights make its tokens depend on input and step, as tests need.
    with torch.no_grad():
        for emb in (model.tok_emb, model.pos_a, model.pos_b, model.target_emb, model.slot_pos):
            emb.weight.normal_(0.0, 1.0)
        model.out.weight.mul_(4.0)
        if isinstance(model.pixel_proj, torch.nn.Linear):  # a pixel stem: let the image matter
            model.pixel_proj.weight.mul_(8.0)
        model.tok_emb.weight[0].zero_()
        if isinstance(model.loc_proj, torch.nn.Linear):  # a locate network: let the column it is told matter
            model.loc_proj.weight.normal_(0.0, 1.0)
    image_codec = ImageCodec(vocab_params["image_codebook_size"])
    audio_codec = AudioCodec(vocab_params["audio_codebook_size"], modalities["audio"]["hop_samples"])
    if network.get("code_vectors"):
        model.set_code_vectors(Layout(vocab_params), {IMAGE: image_codec.vq.codebooks, AUDIO: audio_codec.vq.codebooks})
    return model, image_codec, audio_codec
