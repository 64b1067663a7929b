#!/usr/bin/python3
"""Turns the data factory's dataset into the translators' training tokens, with a bundle's codecs.

For every score of a split: the image codes of each system (clean and scan-like), its LMX ids,
the audio codes of the whole rendering (50 frames/s for the default codec), the MIDI event ids of
each MIDI-audio window (through `umt tokens`, so they are exactly what C++ makes at inference) and
the image-audio pairs as (systems, frame span). One pickle per split and shard; resumable per score.

  scripts/prepare_tokens.py --data ../data/umt-dataset-v1 --models models/default \
      --out ../data/tokens-v1 --split train --shard 0/2
"""
import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umt_model.media import read_gray, read_wav, resample  # noqa: E402
from umt_model.bundle import load_codec, load_manifest  # noqa: E402
from umt_model.vocab import umt_vocabulary  # noqa: E402


def lmx_vocabulary(umt):
    """LMX token name -> id in its block."""
    return {t: i for i, t in enumerate(umt_vocabulary(umt, "lmx"))}


@torch.no_grad()
def image_codes(codec, path):
    x = torch.from_numpy(read_gray(path, pad16=True)).float().div_(255.0)[None, None]
    return codec.encode(x)[0].numpy().astype(np.int16)  # [rows, cols, 4]


@torch.no_grad()
def audio_codes(codec, path, rate, hop):
    x, sr = read_wav(path)
    x = resample(x, sr, rate)
    n = -len(x) % hop
    x = np.pad(x, (0, n))
    parts = []
    step = hop * 50 * 60  # a minute at a time keeps memory flat
    s = 0
    while s < len(x):
        e = len(x) if len(x) - s < step + 5 * 50 * hop else s + step  # no short last piece
        parts.append(codec.encode(torch.from_numpy(x[s:e])[None])[0].numpy().astype(np.int16))
        s = e
    return np.concatenate(parts, 0)  # [T, 4]


def midi_ids(umt, requests):
    """[(midi path, start_s, window_s)] -> list of token-name strings, via `umt tokens --requests`."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for m, s, w in requests:
            f.write(json.dumps({"midi": m, "start_s": s, "window_s": w}) + "\n")
        name = f.name
    try:
        out = subprocess.run([umt, "-q", "tokens", "--requests", name], capture_output=True, text=True)
    finally:
        os.unlink(name)
    lines = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    if len(lines) != len(requests):
        raise RuntimeError(f"umt tokens: {len(lines)} answers for {len(requests)} requests: {out.stderr[-500:]}")
    return [x.get("tokens") for x in lines]


def midi_vocabulary(umt):
    """MIDI token name -> id in its block."""
    return {t: i for i, t in enumerate(umt_vocabulary(umt, "midi"))}


def score_id_of(r):
    # system / pair ids are <score>-sNN, <score>-iaNNxK, <score>-maWW-NNNNN
    return r["audio"].split("/")[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--models", default="models/default")
    ap.add_argument("--out", required=True)
    ap.add_argument("--split", default="train", choices=["train", "dev"])
    ap.add_argument("--shard", default="0/1", help="i/n: this process takes every n-th score")
    ap.add_argument("--umt", default="build/umt")
    ap.add_argument("--limit", type=int, default=0, help="at most this many scores (for trials)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    shard, nshard = map(int, args.shard.split("/"))
    man = load_manifest(args.models)
    au = man["modalities"]["audio"]
    rate, hop = au["sample_rate"], au["hop_samples"]
    icodec, acodec = load_codec(args.models, "image"), load_codec(args.models, "audio")
    lmx_ids, midi_voc = lmx_vocabulary(args.umt), midi_vocabulary(args.umt)

    recs = {}
    for line in open(os.path.join(args.data, f"{args.split}.jsonl")):
        r = json.loads(line)
        recs.setdefault(score_id_of(r), []).append(r)
    if args.split == "dev":  # the evaluation rendering (other SoundFont + reverb) of the same scores
        for line in open(os.path.join(args.data, "dev_eval.jsonl")):
            r = json.loads(line)
            if r["kind"] == "score":
                recs.setdefault(score_id_of(r), []).append(dict(r, kind="score_eval"))
    ids = sorted(recs)[shard::nshard]
    if args.limit:
        ids = ids[:args.limit]
    os.makedirs(args.out, exist_ok=True)
    part = os.path.join(args.out, f"{args.split}-{shard}of{nshard}.pkl")
    done = {}
    if os.path.exists(part):
        with open(part, "rb") as f:
            done = pickle.load(f)
    t0 = time.time()
    for k, sid in enumerate(ids):
        if sid in done:
            continue
        rs = recs[sid]
        score = next(r for r in rs if r["kind"] == "score")
        item = {"id": sid, "systems": [], "pairs": [], "windows": []}
        item["audio"] = audio_codes(acodec, os.path.join(args.data, score["audio"]), rate, hop)
        ev = [r for r in rs if r["kind"] == "score_eval"]
        if ev:
            item["audio_eval"] = audio_codes(acodec, os.path.join(args.data, ev[0]["audio"]), rate, hop)
        sys_index = {}
        for r in rs:
            if r["kind"] != "system":
                continue
            toks = r["lmx"].split()
            unknown = [t for t in toks if t not in lmx_ids]
            if unknown:
                print(f"{r['id']}: unknown LMX tokens {unknown[:3]}; skipped", file=sys.stderr)
                continue
            s = {"id": r["id"], "image": image_codes(icodec, os.path.join(args.data, r["image"])),
                 "lmx": np.array([lmx_ids[t] for t in toks], np.int16),
                 "start_s": r.get("start_s"), "end_s": r.get("end_s")}
            if r.get("image_scan"):
                s["scan"] = image_codes(icodec, os.path.join(args.data, r["image_scan"]))
            sys_index[r["image"]] = len(item["systems"])
            item["systems"].append(s)
        fps = rate / hop
        for r in rs:
            if r["kind"] == "image_audio" and all(i in sys_index for i in r["images"]):
                item["pairs"].append({"systems": [sys_index[i] for i in r["images"]],
                                      "frames": (int(round(r["start_s"] * fps)), int(round(r["end_s"] * fps)))})
        wins = [r for r in rs if r["kind"] == "midi_audio"]
        if wins:
            names = midi_ids(args.umt, [(os.path.join(args.data, r["midi"]), r["start_s"], r["window_s"]) for r in wins])
            for r, n in zip(wins, names):
                if n is None:
                    continue
                item["windows"].append({"midi": np.array([midi_voc[t] for t in n.split()], np.int16),
                                        "frames": (int(round(r["start_s"] * fps)),
                                                   int(round((r["start_s"] + r["window_s"]) * fps)))})
        done[sid] = item
        if (k + 1) % 10 == 0 or k + 1 == len(ids):
            tmp = part + ".tmp"
            with open(tmp, "wb") as f:
                pickle.dump(done, f, protocol=4)
            os.replace(tmp, part)
            print(f"{args.split} {args.shard}: {len(done)}/{len(ids)} scores, {time.time() - t0:.0f} s",
                  file=sys.stderr, flush=True)
    with open(part + ".tmp", "wb") as f:
        pickle.dump(done, f, protocol=4)
    os.replace(part + ".tmp", part)


if __name__ == "__main__":
    main()
