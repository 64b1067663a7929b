#!/usr/bin/python3
"""Measures the six translations of a model bundle on the dev split, the way the paper does, and
prints one Markdown table beside the paper's numbers (U-MusT, Jung et al., TASLP 2026).

Everything runs through the `umt` command line, as a user would run it; data is the data
factory's dev split (never trained on): MuseScore/verovio-engraved systems and their scan-like
copies, and audio rendered with the evaluation SoundFont (MuseScore_General) plus reverb.

  OMR       SER of `umt omr` on N dev systems (clean and scan-like); with --ablation DIR also an
            OMR-only bundle (the paper's central claim: far tasks help near tasks)
  AMT       note-onset F1 at 50 ms (`umt eval notes`, mir_eval semantics, sustain applied) of
            `umt amt` on P excerpts; basic-pitch (npm) on the same files as a peer, with speed
  MIDI->audio  `umt synth` of P reference MIDI excerpts, transcribed by basic-pitch; onset F1 at
            50/100/200 ms against the input MIDI; Frechet distance of 80-band log-mel frame
            statistics (stated embedding: no VGGish/CLAP offline; clips RMS-normalised) to the
            reference recordings
  Image->audio direct and staged (`umt i2a --pipeline staged --engine neural`), transcribed by
            basic-pitch, DTW-aligned to the reference performance (`umt eval notes --align`),
            onset F1 at 50/100/200 ms
  Audio->image `umt a2i` of the system's audio span (evaluation rendering), direct and staged (AMT ->
            quantize -> MuseScore); the image read back by `umt omr`; EMD of pitch and duration
            histograms against the system's notation (staged: also of its AMT MIDI before engraving)
  Engraving `umt engrave` of the system's LMX, read back by `umt omr`: SER and EMD
  Speed     OMR seconds per system (the folder of systems on N cores, umt's batch defaults), AMT /
            synthesis real-time factors (N model threads), peak memory; N = --threads (2)

  scripts/eval_paper.py --data ../data/umt-dataset-v1 [--models models/default] \
      [--ablation DIR] [--basic-pitch tools] [--systems 100] [--pieces 10] [--pairs 20] \
      [--json out.json]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from datafactory import midi  # noqa: E402
from eval_codec import transcribe_basic_pitch  # noqa: E402
from train_codec import mel_filterbank  # noqa: E402
from umt_model.media import read_wav, resample, write_wav  # noqa: E402

PAPER = {  # U-MusT full model (Table numbers quoted in the issue)
    "omr_ser_omr_only": 15.90, "omr_ser": 9.72, "amt_f1": 89.45,
    "synth_f1": (39.37, 66.63, 84.66), "i2a_direct_f1": (48.67, 64.30, 74.01),
    "i2a_staged_f1": (50.91, 70.40, 79.96), "a2i_emd": (2.635, 0.432),
}
TOLS = (0.05, 0.1, 0.2)


class Runner:
    def __init__(self, umt, threads, quiet=True):
        self.umt, self.threads, self.quiet = umt, threads, quiet
        self.failures = []

    def run(self, args, models=None, threads=True):
        """Runs umt; returns (wall seconds, peak resident MB). Failures are recorded, not raised.
        threads: True passes --threads N (one input on N model threads); "cores" runs umt on N cores
        (an affinity mask, as Slurm or taskset give) with its own batch defaults (a folder: one input
        per core, decoded in shared batches), as a user runs a folder; False neither."""
        cmd = [self.umt, "-q"] + (["--models", models] if models else []) + args
        if threads is True:
            cmd += ["--threads", str(self.threads)]
        cores = sorted(os.sched_getaffinity(0))[:self.threads] if threads == "cores" else None
        fd, tfile = tempfile.mkstemp()
        os.close(fd)
        t0 = time.time()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tfile] + cmd, capture_output=True, text=True,
                           preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None)
        wall = time.time() - t0
        try:
            peak = int(open(tfile).read().strip().splitlines()[-1]) / 1024
        except (ValueError, IndexError):
            peak = float("nan")
        os.unlink(tfile)
        if p.returncode != 0:
            self.failures.append((" ".join(args[:1]), p.stderr.strip().splitlines()[-3:]))
        return wall, peak

    def json(self, args):
        p = subprocess.run([self.umt, "-q"] + args + ["--json"], capture_output=True, text=True)
        if not p.stdout.strip():
            raise RuntimeError(f"umt {' '.join(args)}: {p.stderr.strip()[-300:]}")
        return json.loads(p.stdout)


def spread(items, n):
    """n items spread evenly over a sorted list (many scores, not the first few)."""
    if n >= len(items):
        return items
    idx = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in idx]


def load_records(data, split):
    with open(os.path.join(data, f"{split}.jsonl")) as f:
        return [json.loads(x) for x in f]


def excerpt_notes(midi_path, start, end):
    notes, pedals = midi.read_midi(midi_path)
    out = [midi.Note(n.onset_s - start, min(n.offset_s, end) - start, n.pitch, n.velocity)
           for n in notes if start <= n.onset_s < end]
    down = False
    peds = []
    for t, d in sorted(pedals):
        if t < start:
            down = d
        elif t < end:
            peds.append((t - start, d))
    if down:
        peds.insert(0, (0.0, True))
    return out, peds


def bp_to_midi(bp_dir, wav, mid):
    """basic-pitch transcription of wav written as a MIDI file (onsets, offsets, pitches)."""
    notes = [midi.Note(on, max(off, on + 0.01), pitch, max(1, min(127, int(amp * 127) if amp is not None else 80)))
             for on, off, pitch, amp in transcribe_basic_pitch(bp_dir, wav, wav + ".csv")]
    midi.write_midi(mid, notes)


def f1s(r, ref, hyp, align=False, sustain=True):
    out = []
    for tol in TOLS:
        args = ["eval", "notes", ref, hyp, "--onset-tol", str(tol)] + (["--sustain"] if sustain else []) + \
               (["--align"] if align else [])
        out.append(100 * r.json(args)["onset_f1"])
    return out


def note_scores(r, ref, hyp, tol=0.05):
    """Onset and onset+offset precision / recall / F1 (%) at tol, reference notes sustained by the
    pedal (the transcribers' note ends are the key's sound)."""
    j = r.json(["eval", "notes", ref, hyp, "--onset-tol", str(tol), "--sustain"])
    keys = ("onset_precision", "onset_recall", "onset_f1", "onset_offset_f1")
    return {k: round(100 * j[k], 2) for k in keys if k in j}


def log_mel_frames(path, rate=16000):
    x, sr = read_wav(path)
    x = resample(x, sr, rate)
    x = x * (0.1 / (np.sqrt(np.mean(x ** 2)) + 1e-8))  # loudness is not what the distance should measure
    import torch
    fb = mel_filterbank(1024, 80, rate)
    s = torch.stft(torch.from_numpy(x), 1024, 256, 1024, torch.hann_window(1024), return_complex=True).abs() ** 2
    return torch.log10(fb @ s + 1e-5).T.numpy().astype(np.float64)


def frechet(a, b):
    from scipy import linalg
    ma, mb = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    s, _ = linalg.sqrtm(ca @ cb, disp=False)
    s = s.real
    return float(((ma - mb) ** 2).sum() + np.trace(ca + cb - 2 * s))


def cut_wav(src, dst, start, end):
    x, sr = read_wav(src)
    write_wav(dst, x[int(start * sr):int(end * sr)], sr)
    return (int(end * sr) - int(start * sr)) / sr


def eval_omr(r, args, systems, work, models, label):
    out = {}
    for variant, key in (("clean", "image"), ("scan", "image_scan")):
        d_in, d_out, d_ref = (os.path.join(work, f"omr-{label}-{variant}-{k}") for k in ("in", "out", "ref"))
        for d in (d_in, d_out, d_ref):
            os.makedirs(d, exist_ok=True)
        for s in systems:
            shutil.copy(os.path.join(args.data, s[key]), os.path.join(d_in, s["id"] + ".png"))
            with open(os.path.join(d_ref, s["id"] + ".lmx"), "w") as f:
                f.write(s["lmx"] + "\n")
        wall, peak = r.run(["omr", d_in, "-o", d_out, "--format", "lmx"], models, threads="cores")
        ser = r.json(["eval", "ser", d_ref, d_out])
        out[variant] = {"ser": ser["ser"], "systems": len(systems), "seconds_per_system": wall / len(systems),
                        "peak_mb": peak, "missing": len(ser.get("missing", [])),
                        "per_system": {f["name"]: [f["errors"], f["ref_tokens"]] for f in ser["per_file"]}}
    return out


def paired_ser_difference(a, b, resamples=2000, seed=0):
    """SER(a) - SER(b) over the same systems, with a 95 % paired bootstrap interval (systems resampled)."""
    names = sorted(set(a) & set(b))
    ea = np.array([a[k][0] for k in names], np.float64)  # errors
    eb = np.array([b[k][0] for k in names], np.float64)
    n = np.array([a[k][1] for k in names], np.float64)  # reference tokens
    diff = 100 * (ea.sum() - eb.sum()) / n.sum()
    pick = np.random.default_rng(seed).integers(0, len(names), (resamples, len(names)))
    boot = 100 * (ea[pick].sum(1) - eb[pick].sum(1)) / n[pick].sum(1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"difference": float(diff), "ci95": [float(lo), float(hi)], "systems": len(names)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="the data factory's dataset folder")
    ap.add_argument("--models", default=None, help="bundle to evaluate (default: umt's default bundle)")
    ap.add_argument("--ablation", help="an OMR-only bundle to compare on OMR")
    ap.add_argument("--basic-pitch", default="tools", help="folder with node_modules/@spotify/basic-pitch")
    ap.add_argument("--umt", default="build/umt")
    ap.add_argument("--threads", type=int, default=2,
                    help="N: model threads of one input, and the cores an OMR folder runs on")
    ap.add_argument("--systems", type=int, default=100, help="dev systems for OMR and engraving")
    ap.add_argument("--pieces", type=int, default=10, help="dev pieces for AMT and synthesis")
    ap.add_argument("--amt-seconds", type=float, default=30.0)
    ap.add_argument("--synth-seconds", type=float, default=9.5)
    ap.add_argument("--pairs", type=int, default=20, help="dev system/audio pairs for image<->audio")
    ap.add_argument("--only", default="", help="comma list of sections: omr,amt,synth,i2a,a2i,engrave")
    ap.add_argument("--json", help="write all numbers here")
    ap.add_argument("--keep", help="keep the working files in this folder")
    args = ap.parse_args()
    only = set(x for x in args.only.split(",") if x)
    want = lambda s: not only or s in only  # noqa: E731
    r = Runner(args.umt, args.threads)
    work = args.keep or tempfile.mkdtemp(prefix="umt-eval-paper-")
    os.makedirs(work, exist_ok=True)
    bp = args.basic_pitch if os.path.isdir(os.path.join(args.basic_pitch, "node_modules", "@spotify")) else None
    if not bp:
        print(f"note: no basic-pitch in {args.basic_pitch}: the sections that transcribe audio are skipped",
              file=sys.stderr)
    dev = load_records(args.data, "dev")
    dev_eval = load_records(args.data, "dev_eval")
    eval_audio = {x["score_id"]: x["audio"] for x in dev_eval if x["kind"] == "score"}
    scores = {x["score_id"]: x for x in dev if x["kind"] == "score"}
    systems = spread(sorted((x for x in dev if x["kind"] == "system"), key=lambda x: x["id"]), args.systems)
    if any(x.get("staff_bands", 0) for x in systems):
        # umt cuts its inputs itself, as the bundle says (modalities.image.staff_bands): a system
        # already cut into bands would be cut again (and its staves no longer joined)
        sys.exit(f"eval_paper: {args.data} holds system images in the band layout (--staff-bands); "
                 "give a build cut as on the page: umt cuts it for the model")
    pairs = spread(sorted((x for x in dev if x["kind"] == "image_audio" and len(x["images"]) == 1),
                          key=lambda x: x["id"]), args.pairs)
    pieces = spread(sorted(scores), args.pieces)
    res = {"models": args.models or "default", "data": args.data, "threads": args.threads}

    if want("omr"):
        res["omr"] = eval_omr(r, args, systems, work, args.models, "main")
        if args.ablation:
            res["omr_ablation"] = eval_omr(r, args, systems, work, args.ablation, "ablation")
            res["omr_multi_minus_only"] = {v: paired_ser_difference(res["omr"][v]["per_system"],
                                                                    res["omr_ablation"][v]["per_system"])
                                           for v in ("clean", "scan")}
        print(f"omr {res['omr']['clean']['ser']} ablation "
              f"{res.get('omr_ablation', {}).get('clean', {}).get('ser')}", file=sys.stderr)

    if want("amt"):
        d = {k: os.path.join(work, f"amt-{k}") for k in ("wav", "ref", "umt", "bp")}
        for x in d.values():
            os.makedirs(x, exist_ok=True)
        seconds = 0.0
        for sid in pieces:
            sc = scores[sid]
            end = min(args.amt_seconds, sc["duration_s"])
            seconds += cut_wav(os.path.join(args.data, eval_audio[sid]), os.path.join(d["wav"], sid + ".wav"), 0, end)
            midi.write_midi(os.path.join(d["ref"], sid + ".mid"),
                            *excerpt_notes(os.path.join(args.data, sc["performance_midi"]), 0, end))
        wall, peak = r.run(["amt", d["wav"], "-o", d["umt"]], args.models)
        row = {"pieces": len(pieces), "seconds": seconds, "umt_f1": f1s(r, d["ref"], d["umt"])[0],
               "umt": note_scores(r, d["ref"], d["umt"]), "umt_rtf": seconds / wall, "umt_wall_s": wall,
               "umt_peak_mb": peak}
        if bp:
            t0 = time.time()
            for sid in pieces:
                bp_to_midi(bp, os.path.join(d["wav"], sid + ".wav"), os.path.join(d["bp"], sid + ".mid"))
            bp_wall = time.time() - t0
            row.update({"basic_pitch_f1": f1s(r, d["ref"], d["bp"])[0], "basic_pitch": note_scores(r, d["ref"], d["bp"]),
                        "basic_pitch_rtf": seconds / bp_wall, "basic_pitch_wall_s": bp_wall})
        res["amt"] = row
        print(f"amt {row}", file=sys.stderr)

    if want("synth"):
        d = {k: os.path.join(work, f"synth-{k}") for k in ("ref", "ref_wav", "umt", "fs", "umt_bp", "fs_bp", "ref_bp")}
        for x in d.values():
            os.makedirs(x, exist_ok=True)
        seconds = 0.0
        start = 0.0
        for sid in pieces:
            sc = scores[sid]
            end = min(start + args.synth_seconds, sc["duration_s"])
            midi.write_midi(os.path.join(d["ref"], sid + ".mid"),
                            *excerpt_notes(os.path.join(args.data, sc["performance_midi"]), start, end))
            seconds += cut_wav(os.path.join(args.data, eval_audio[sid]), os.path.join(d["ref_wav"], sid + ".wav"),
                               start, end)
        wall, peak = r.run(["synth", d["ref"], "-o", d["umt"]], args.models)
        r.run(["synth", d["ref"], "-o", d["fs"], "--engine", "fluidsynth", "--no-reverb"], args.models, threads=False)
        row = {"pieces": len(pieces), "seconds": seconds, "umt_rtf": seconds / wall, "umt_peak_mb": peak}
        ref_frames = np.concatenate([log_mel_frames(os.path.join(d["ref_wav"], s + ".wav")) for s in pieces])
        for name in ("umt", "fs"):
            try:
                frames = np.concatenate([log_mel_frames(os.path.join(d[name], s + ".wav")) for s in pieces])
                row[f"{name}_frechet"] = frechet(frames, ref_frames)
            except (FileNotFoundError, ValueError) as e:
                print(f"synth {name}: {e}", file=sys.stderr)
        if bp:
            for name in ("umt", "fs", "ref"):
                src = d["ref_wav"] if name == "ref" else d[name]
                for sid in pieces:
                    w = os.path.join(src, sid + ".wav")
                    if os.path.exists(w):
                        bp_to_midi(bp, w, os.path.join(d[name + "_bp"], sid + ".mid"))
                row[f"{name}_f1"] = f1s(r, d["ref"], d[name + "_bp"])
        res["synth"] = row
        print(f"synth {row}", file=sys.stderr)

    if want("i2a") or want("a2i"):
        d = {k: os.path.join(work, f"pairs-{k}") for k in ("img", "ref", "wav", "direct", "staged", "direct_bp",
                                                               "staged_bp", "ref_mid",
                                                               "ref_lmx")}
        for x in d.values():
            os.makedirs(x, exist_ok=True)
        seconds = 0.0
        for p in pairs:
            sc = scores[p["score_id"]]
            shutil.copy(os.path.join(args.data, p["images"][0]), os.path.join(d["img"], p["id"] + ".png"))
            midi.write_midi(os.path.join(d["ref"], p["id"] + ".mid"),
                            *excerpt_notes(os.path.join(args.data, sc["performance_midi"]), p["start_s"], p["end_s"]))
            seconds += cut_wav(os.path.join(args.data, eval_audio[p["score_id"]]), os.path.join(d["wav"], p["id"] + ".wav"),
                               p["start_s"], p["end_s"])
            with open(os.path.join(d["ref_lmx"], p["id"] + ".lmx"), "w") as f:
                f.write(p["lmx"][0] + "\n")
        r.run(["convert", d["ref_lmx"], "-o", d["ref_mid"], "--to", "mid"], threads=False)
        if want("i2a"):
            wd, pd = r.run(["i2a", d["img"], "-o", d["direct"]], args.models)
            ws, ps = r.run(["i2a", d["img"], "-o", d["staged"], "--pipeline", "staged", "--engine", "neural"], args.models)
            row = {"pairs": len(pairs), "seconds_per_system_direct": wd / len(pairs),
                   "seconds_per_system_staged": ws / len(pairs), "peak_mb": max(pd, ps)}
            if bp:
                for name in ("direct", "staged"):
                    for p in pairs:
                        w = os.path.join(d[name], p["id"] + ".wav")
                        if os.path.exists(w):
                            bp_to_midi(bp, w, os.path.join(d[name + "_bp"], p["id"] + ".mid"))
                    row[f"{name}_f1"] = f1s(r, d["ref"], d[name + "_bp"], align=True)
            res["i2a"] = row
            print(f"i2a {row}", file=sys.stderr)
        if want("a2i"):
            # direct (audio tokens -> image tokens) and staged (AMT -> quantize -> MuseScore engraving), each
            # image read back by `umt omr`; the staged path's AMT MIDI is also scored before engraving
            for key, flags in (("a2i", []), ("a2i_staged", ["--pipeline", "staged", "--engine", "musescore"])):
                out = {k: os.path.join(work, f"pairs-{key}-{k}") for k in ("png", "xml", "mid")}
                for x in out.values():
                    os.makedirs(x, exist_ok=True)
                wall, peak = r.run(["a2i", d["wav"], "-o", out["png"], *flags], args.models)
                r.run(["omr", out["png"], "-o", out["xml"], "--format", "musicxml", "--one-part"], args.models)
                r.run(["convert", out["xml"], "-o", out["mid"], "--to", "mid"], threads=False)
                emd = r.json(["eval", "emd", d["ref_mid"], out["mid"]])
                res[key] = {
                    "pairs": len(pairs), "seconds": seconds, "rtf": seconds / wall, "peak_mb": peak,
                    "pitch_emd": emd["pitch_emd"], "duration_emd": emd["duration_emd"],
                    "read_back": len(pairs) - len(emd.get("missing", []))}
            amt_mid = os.path.join(work, "pairs-a2i-amt")
            os.makedirs(amt_mid, exist_ok=True)
            r.run(["amt", d["wav"], "-o", amt_mid], args.models)
            emd = r.json(["eval", "emd", d["ref_mid"], amt_mid])
            res["a2i_staged"]["amt_pitch_emd"], res["a2i_staged"]["amt_duration_emd"] = emd["pitch_emd"], emd["duration_emd"]
            print(f"a2i {res['a2i']}\na2i staged {res['a2i_staged']}", file=sys.stderr)

    if want("engrave"):
        sub = systems[: max(1, len(systems) // 4)]
        d = {k: os.path.join(work, f"engrave-{k}") for k in ("ref", "png", "lmx", "ref_mid", "xml", "mid")}
        for x in d.values():
            os.makedirs(x, exist_ok=True)
        for s in sub:
            with open(os.path.join(d["ref"], s["id"] + ".lmx"), "w") as f:
                f.write(s["lmx"] + "\n")
        wall, peak = r.run(["engrave", d["ref"], "-o", d["png"]], args.models)
        r.run(["omr", d["png"], "-o", d["lmx"], "--format", "lmx", "--one-part"], args.models)
        r.run(["omr", d["png"], "-o", d["xml"], "--format", "musicxml", "--one-part"], args.models)
        r.run(["convert", d["ref"], "-o", d["ref_mid"], "--to", "mid"], threads=False)
        r.run(["convert", d["xml"], "-o", d["mid"], "--to", "mid"], threads=False)
        ser = r.json(["eval", "ser", d["ref"], d["lmx"]])
        emd = r.json(["eval", "emd", d["ref_mid"], d["mid"]])
        res["engrave"] = {"systems": len(sub), "seconds_per_system": wall / len(sub), "peak_mb": peak,
                          "omr_ser": ser["ser"], "pitch_emd": emd["pitch_emd"], "duration_emd": emd["duration_emd"],
                          "read_back": len(sub) - len(emd.get("missing", []))}
        print(f"engrave {res['engrave']}", file=sys.stderr)

    res["failures"] = r.failures
    print_table(res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def fmt(x, nd=2):
    return "-" if x is None else f"{x:.{nd}f}"


def print_table(res):
    P = PAPER
    rows = []
    if "omr" in res:
        o = res["omr"]
        label = "OMR SER (%) ↓, multi-task" if "omr_ablation" in res else "OMR SER (%) ↓"
        rows.append((label, f"clean {fmt(o['clean']['ser'])} / scan {fmt(o['scan']['ser'])}",
                     f"{P['omr_ser']}", f"{o['clean']['systems']} dev systems"))
        if "omr_ablation" in res:
            a = res["omr_ablation"]
            rows.append(("OMR SER (%) ↓, OMR-only", f"clean {fmt(a['clean']['ser'])} / scan {fmt(a['scan']['ser'])}",
                         f"{P['omr_ser_omr_only']}", "same systems, same minutes of training"))
            d = res["omr_multi_minus_only"]
            rows.append(("OMR SER difference, multi-task − OMR-only",
                         " / ".join(f"{v} {fmt(d[v]['difference'])} [{fmt(d[v]['ci95'][0])}, {fmt(d[v]['ci95'][1])}]"
                                    for v in ("clean", "scan")),
                         f"{P['omr_ser'] - P['omr_ser_omr_only']:.2f}", "95 % paired bootstrap over systems"))
    if "amt" in res:
        a = res["amt"]
        bpf = f"; basic-pitch {fmt(a.get('basic_pitch_f1'))} at {fmt(a.get('basic_pitch_rtf'), 1)}x real time" \
            if "basic_pitch_f1" in a else ""
        rows.append(("AMT onset F1 (%) ↑ @50 ms", f"{fmt(a['umt_f1'])} at {fmt(a['umt_rtf'], 1)}x real time{bpf}",
                     f"{P['amt_f1']} (MAESTRO)", f"{a['pieces']} x {a['seconds'] / max(a['pieces'], 1):.0f} s, eval SoundFont + reverb"))
    if "synth" in res:
        s = res["synth"]
        f = "/".join(fmt(x, 1) for x in s.get("umt_f1", [])) or "-"
        extra = "; FluidSynth " + "/".join(fmt(x, 1) for x in s.get("fs_f1", [])) if "fs_f1" in s else ""
        extra += "; reference recording " + "/".join(fmt(x, 1) for x in s.get("ref_f1", [])) if "ref_f1" in s else ""
        rows.append(("MIDI→audio onset F1 (%) ↑ @50/100/200 ms (basic-pitch)", f + extra,
                     "/".join(str(x) for x in P["synth_f1"]), f"{s['pieces']} x {s['seconds'] / max(s['pieces'], 1):.1f} s"))
        rows.append(("MIDI→audio Fréchet distance ↓ (80-band log-mel frames)",
                     f"umt {fmt(s.get('umt_frechet'))}; FluidSynth {fmt(s.get('fs_frechet'))}", "(VGGish FAD, not comparable)",
                     "vs the evaluation recordings"))
    if "i2a" in res:
        i = res["i2a"]
        for name in ("direct", "staged"):
            rows.append((f"Image→audio {name} onset F1 (%) ↑ @50/100/200 ms after DTW",
                         "/".join(fmt(x, 1) for x in i.get(f"{name}_f1", [])) or "-",
                         "/".join(str(x) for x in P[f"i2a_{name}_f1"]), f"{i['pairs']} dev systems"))
    if "a2i" in res:
        a = res["a2i"]
        rows.append(("Audio→image EMD ↓ pitch / duration", f"{fmt(a['pitch_emd'], 3)} / {fmt(a['duration_emd'], 3)}",
                     f"{P['a2i_emd'][0]} / {P['a2i_emd'][1]}", f"{a['read_back']}/{a['pairs']} images read back by OMR"))
    if "a2i_staged" in res:
        a = res["a2i_staged"]
        rows.append(("Audio→image staged (AMT → MuseScore) EMD ↓ pitch / duration",
                     f"{fmt(a['pitch_emd'], 3)} / {fmt(a['duration_emd'], 3)}; its AMT MIDI before engraving "
                     f"{fmt(a['amt_pitch_emd'], 3)} / {fmt(a['amt_duration_emd'], 3)}",
                     f"{P['a2i_emd'][0]} / {P['a2i_emd'][1]}", f"{a['read_back']}/{a['pairs']} images read back by OMR"))
    if "engrave" in res:
        e = res["engrave"]
        rows.append(("Engraving: OMR SER (%) of the image ↓; EMD pitch / duration ↓",
                     f"{fmt(e['omr_ser'])}; {fmt(e['pitch_emd'], 3)} / {fmt(e['duration_emd'], 3)}", "-",
                     f"{e['read_back']}/{e['systems']} read back"))
    print("| task and metric | umt (this bundle, dev split) | paper | data |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    sp = []
    if "omr" in res:
        sp.append(f"OMR {res['omr']['clean']['seconds_per_system']:.2f} s/system (a folder on {res.get('threads', '?')} cores, "
                  f"umt's batch defaults; peak {res['omr']['clean']['peak_mb']:.0f} MB)")
    if "amt" in res:
        sp.append(f"AMT {res['amt']['umt_rtf']:.1f}x real time (peak {res['amt']['umt_peak_mb']:.0f} MB)")
    if "synth" in res:
        sp.append(f"synthesis {res['synth']['umt_rtf']:.2f}x real time (peak {res['synth']['umt_peak_mb']:.0f} MB)")
    if "i2a" in res:
        sp.append(f"image→audio {res['i2a']['seconds_per_system_direct']:.1f} s/system direct, "
                  f"{res['i2a']['seconds_per_system_staged']:.1f} staged")
    if "a2i" in res:
        sp.append(f"audio→image {res['a2i']['rtf']:.2f}x real time")
    if "a2i_staged" in res:
        sp.append(f"audio→image staged {res['a2i_staged']['rtf']:.2f}x real time")
    if sp:
        print(f"\nSpeed (wall clock incl. start-up; {res.get('threads', '?')} model threads but where said): "
              + "; ".join(sp) + ".")
    if res.get("failures"):
        print(f"\n{len(res['failures'])} umt commands reported failures (see the JSON).")


if __name__ == "__main__":
    main()
