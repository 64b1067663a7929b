#!/usr/bin/python3
"""Measures the bundle's codecs on the data factory's dev split (never on training data).

  eval_codec.py image --data DATASET [--models models/default] [--limit 200]
  eval_codec.py audio --data DATASET [--models models/default] [--limit 30] [--basic-pitch DIR]

Image: every dev system crop (MuseScore/verovio-clean and scan-like) goes through the codec;
ink-pixel precision/recall/F1 after binarization at mid-gray, per system and over all pixels;
codebook utilisation on dev; encode+decode time.

Audio: 20 s excerpts of the dev renderings (the training SoundFonts, and the evaluation
SoundFont with reverb) go through the codec at its rate; log-mel L1 (80 mel bands, 1024-point
STFT at 16 kHz); and, with --basic-pitch (a folder with node_modules of @spotify/basic-pitch),
basic-pitch transcriptions of the original and the reconstruction scored against the
performance MIDI: note-onset F1 at 50 ms, and the ratio reconstruction / original.
Prints a Markdown table; --json writes the numbers.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from umt_model.bundle import load_codec, load_manifest  # noqa: E402
from train_codec import mel_filterbank  # noqa: E402
from umt_model.media import read_gray, read_wav, resample, write_wav  # noqa: E402
from datafactory import midi  # noqa: E402


def dev_records(data, split, kind):
    out = []
    for path in sorted(glob.glob(os.path.join(data, "scores", "dev", "*", "done.json"))):
        with open(path) as f:
            done = json.load(f)
        if done.get("ok"):
            out.extend(r for r in done["records"].get(split, []) if r.get("kind") == kind)
    return out


def ink_counts(orig, recon):
    a = orig < 128
    b = recon < 128
    tp = int((a & b).sum())
    return tp, int(b.sum()) - tp, int(a.sum()) - tp


def f1_of(tp, fp, fn):
    p = tp / max(1, tp + fp)
    r = tp / max(1, tp + fn)
    return p, r, 2 * p * r / max(1e-12, p + r)


def eval_image(args, manifest):
    codec = load_codec(args.models, "image")
    recs = dev_records(args.data, "dev", "system")
    rng = np.random.default_rng(0)
    if args.limit and len(recs) > args.limit:
        recs = [recs[i] for i in sorted(rng.choice(len(recs), args.limit, replace=False))]
    k = manifest["vocabulary"]["image_codebook_size"]
    rows = {}
    usage = np.zeros((4, k))
    t_enc = t_dec = 0.0
    pixels = 0
    examples = []
    for variant in ("image", "image_scan"):
        tot = [0, 0, 0]
        per = []
        for r in recs:
            if not r.get(variant):
                continue
            img = read_gray(os.path.join(args.data, r[variant]), pad16=True)
            x = torch.from_numpy(img).float().div(255.0)[None, None]
            with torch.inference_mode():
                t0 = time.time()
                codes = codec.encode(x)
                t1 = time.time()
                y = codec.decode(codes)
                t2 = time.time()
            t_enc += t1 - t0
            t_dec += t2 - t1
            pixels += img.size
            rec = (y[0, 0].clamp(0, 1) * 255).round().byte().numpy()
            c = ink_counts(img, rec)
            for i in range(3):
                tot[i] += c[i]
            per.append(f1_of(*c)[2])
            flat = codes.reshape(-1, 4).numpy()
            for j in range(4):
                usage[j] += np.bincount(flat[:, j], minlength=k)
            if variant == "image" and len(examples) < 3:
                examples.append((r, img, rec))
        if per:
            p, rc, f = f1_of(*tot)
            rows[variant] = {"systems": len(per), "precision": p, "recall": rc, "f1_pixels": f,
                             "f1_mean": float(np.mean(per)), "f1_min": float(np.min(per))}
    util = []
    for j in range(4):
        pr = usage[j] / max(1, usage[j].sum())
        nz = pr[pr > 0]
        util.append({"used": float((usage[j] > 0).mean()), "perplexity": float(np.exp(-(nz * np.log(nz)).sum()))})
    speed = {"megapixels_per_s_encode": pixels / 1e6 / max(t_enc, 1e-9), "megapixels_per_s_decode": pixels / 1e6 / max(t_dec, 1e-9)}
    print("| variant | systems | ink precision | ink recall | ink F1 (all pixels) | mean F1 per system | min |")
    print("|---|---|---|---|---|---|---|")
    for v, m in rows.items():
        print(f"| {'clean' if v == 'image' else 'scan-like'} | {m['systems']} | {m['precision']:.4f} | {m['recall']:.4f} | "
              f"{m['f1_pixels']:.4f} | {m['f1_mean']:.4f} | {m['f1_min']:.4f} |")
    print("\ncodebook utilisation on dev (fraction used / perplexity): " +
          ", ".join(f"{u['used']:.2f} / {u['perplexity']:.0f}" for u in util))
    print(f"speed (Python, {torch.get_num_threads()} thread(s)): encode {speed['megapixels_per_s_encode']:.2f} MP/s, "
          f"decode {speed['megapixels_per_s_decode']:.2f} MP/s")
    if args.examples:
        import cv2
        os.makedirs(args.examples, exist_ok=True)
        for r, img, rec in examples:
            both = np.concatenate([img, np.full((8, img.shape[1]), 160, np.uint8), rec], 0)
            cv2.imwrite(os.path.join(args.examples, f"{r['id']}-original-over-codec.png"), both)
    return {"image": rows, "utilisation": util, "speed": speed}


def log_mel(x, rate, fb, n_fft=1024, hop=256):
    s = torch.stft(torch.from_numpy(x), n_fft, hop, n_fft, torch.hann_window(n_fft), return_complex=True).abs() ** 2
    return torch.log10(fb @ s + 1e-5)


def transcribe_basic_pitch(bp_dir, wav, csv):
    """basic-pitch's notes of wav as (onset s, offset s, MIDI pitch, amplitude 0..1 or None); the CSV is kept."""
    env = dict(os.environ, NODE_PATH=os.path.join(bp_dir, "node_modules"))
    runner = os.path.join(os.path.dirname(HERE), "..", "shared", "peers", "basic-pitch", "bp_transcribe.js")
    runner = os.environ.get("UMT_BASIC_PITCH_RUNNER", os.path.normpath(runner))
    subprocess.run(["node", runner, wav, csv, "--backend", "wasm"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    notes = []
    with open(csv) as f:
        for line in f:
            p = line.strip().split(",")
            try:
                on, off, pitch = float(p[0]), float(p[1]), int(round(float(p[2])))
            except (ValueError, IndexError):
                continue
            notes.append((on, off, pitch, float(p[3]) if len(p) > 3 and p[3] else None))
    return notes


def basic_pitch(bp_dir, wav, csv):
    """(onset, pitch) of basic-pitch's notes of wav."""
    return [(on, pitch) for on, _, pitch, _ in transcribe_basic_pitch(bp_dir, wav, csv)]


def onset_f1(ref, est, tol=0.05):
    """mir_eval-style onset-only note matching (same pitch, |onset difference| <= tol), maximum matching."""
    from scipy.optimize import linear_sum_assignment
    if not ref or not est:
        return 0.0 if (ref or est) else 1.0
    r = np.array(ref)
    e = np.array(est)
    ok = (np.abs(r[:, None, 0] - e[None, :, 0]) <= tol + 1e-9) & (r[:, None, 1] == e[None, :, 1])
    rows, cols = linear_sum_assignment(-ok.astype(float))
    m = int(ok[rows, cols].sum())
    p = m / len(est)
    rc = m / len(ref)
    return 0.0 if m == 0 else 2 * p * rc / (p + rc)


def midi_notes(path, start, end):
    notes, _ = midi.read_midi(path)
    return [(n.onset_s - start, n.pitch) for n in notes if start <= n.onset_s < end]


def eval_audio(args, manifest):
    codec = load_codec(args.models, "audio")
    rate = manifest["modalities"]["audio"]["sample_rate"]
    fb = mel_filterbank(1024, 80, rate)
    out = {}
    tmp = tempfile.mkdtemp(prefix="umt-eval-codec-")
    for split in ("dev", "dev_eval"):
        recs = []
        seen = set()
        for r in dev_records(args.data, split, "score"):
            if r["audio"] not in seen:
                seen.add(r["audio"])
                recs.append(r)
        recs = recs[:args.limit] if args.limit else recs
        mels, f_orig, f_rec, f_pair = [], [], [], []
        audio_s = t_codec = 0.0
        for i, r in enumerate(recs):
            x, sr = read_wav(os.path.join(args.data, r["audio"]))
            start = min(30.0, max(0.0, len(x) / sr - args.seconds) / 2)  # an excerpt from the middle part
            seg = x[int(start * sr):int((start + args.seconds) * sr)]
            seg = resample(seg, sr, rate)
            seg = seg[:len(seg) // manifest["modalities"]["audio"]["hop_samples"] * manifest["modalities"]["audio"]["hop_samples"]]
            with torch.inference_mode():
                t0 = time.time()
                y = codec.decode(codec.encode(torch.from_numpy(seg)[None]))[0].numpy()
                t_codec += time.time() - t0
            audio_s += len(seg) / rate
            mels.append(float((log_mel(y, rate, fb) - log_mel(seg, rate, fb)).abs().mean()))
            if args.basic_pitch:
                a = os.path.join(tmp, f"{split}-{i}-orig.wav")
                b = os.path.join(tmp, f"{split}-{i}-codec.wav")
                write_wav(a, seg, rate)
                write_wav(b, y, rate)
                ref = midi_notes(os.path.join(args.data, r["performance_midi"]), start, start + len(seg) / rate)
                na = basic_pitch(args.basic_pitch, a, a + ".csv")
                nb = basic_pitch(args.basic_pitch, b, b + ".csv")
                f_orig.append(onset_f1(ref, na))
                f_rec.append(onset_f1(ref, nb))
                f_pair.append(onset_f1(na, nb))
            if args.examples and split == "dev_eval" and i == 0:
                os.makedirs(args.examples, exist_ok=True)
                write_wav(os.path.join(args.examples, f"{r['score_id']}-original.wav"), seg[:rate * 8], rate)
                write_wav(os.path.join(args.examples, f"{r['score_id']}-codec.wav"), y[:rate * 8], rate)
        if not recs:
            continue
        row = {"excerpts": len(recs), "seconds": audio_s, "log_mel_l1": float(np.mean(mels)),
               "python_rtf": audio_s / max(t_codec, 1e-9)}
        if f_orig:
            row.update({"onset_f1_original": float(np.mean(f_orig)), "onset_f1_codec": float(np.mean(f_rec)),
                        "ratio": float(np.mean(f_rec) / max(1e-9, np.mean(f_orig))),
                        "onset_f1_codec_vs_original_transcription": float(np.mean(f_pair))})
        out[split] = row
    print("| dev audio | excerpts | log-mel L1 | basic-pitch onset F1: original | codec | ratio | codec vs original transcription | codec x real time (Python) |")
    print("|---|---|---|---|---|---|---|---|")
    for split, m in out.items():
        name = "training SoundFonts" if split == "dev" else "evaluation SoundFont + reverb"
        bp = (f"{m['onset_f1_original']:.3f} | {m['onset_f1_codec']:.3f} | {m['ratio']:.3f} | "
              f"{m['onset_f1_codec_vs_original_transcription']:.3f}") if "ratio" in m else "- | - | - | -"
        print(f"| {name} | {m['excerpts']} x {args.seconds:.0f} s | {m['log_mel_l1']:.3f} | {bp} | {m['python_rtf']:.0f} |")
    return {"audio": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["image", "audio"])
    ap.add_argument("--data", required=True)
    ap.add_argument("--models", default=os.path.join(os.path.dirname(HERE), "models", "default"))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--basic-pitch", help="folder whose node_modules holds @spotify/basic-pitch")
    ap.add_argument("--examples", help="write a few original/reconstruction pairs here")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    manifest = load_manifest(args.models)
    res = eval_image(args, manifest) if args.kind == "image" else eval_audio(args, manifest)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
