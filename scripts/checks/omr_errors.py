#!/usr/bin/python3
"""Where an I2A's OMR errors come from (issue 18): greedy SER broken down by LMX token group,
teacher-forced accuracy by group (what the decoder gets right while it is on the reference's
track), the encoder's CTC reading error (note heads, rests and barlines in reading order), and
the length of the greedy outputs, on the fixed dev systems and, beside them, on as many training
systems. A model that writes from its language model reads teacher-forced tokens well and greedy
ones badly; a model that has only learnt its training pieces reads training systems far better
than dev ones.

  scripts/checks/omr_errors.py --init models/default --systems DEV [--train-systems SYS] [--count 100]

DEV and SYS are data factory builds (`scripts/build_dataset.py --images-only`) of the dev and
train splits; --init is a bundle folder or a run's checkpoint.pt / best.pt. Prints a table per set.
"""
import argparse
import importlib.util
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.dirname(HERE)
sys.path.insert(0, SCRIPTS)
from umt_model.bundle import load_manifest  # noqa: E402
from umt_model.data import Frames  # noqa: E402
from umt_model.network import Translator, default_network  # noqa: E402
from umt_model.targets import LmxEvents, lmx_names  # noqa: E402
from umt_model.vocab import LMX, Layout  # noqa: E402

spec = importlib.util.spec_from_file_location("train_omr", os.path.join(SCRIPTS, "train_omr.py"))
T = importlib.util.module_from_spec(spec)
spec.loader.exec_module(T)

GROUPS = [  # (group, test on a token), first match wins
    ("pitch", lambda t: len(t) == 2 and t[0] in "ABCDEFG" and t[1].isdigit()),
    ("rest", lambda t: t in ("rest", "rest:measure")),
    ("type", lambda t: t in "1024th 512th 256th 128th 64th 32nd 16th eighth quarter half whole breve long maxima".split()),
    ("measure", lambda t: t == "measure"),
    ("chord", lambda t: t == "chord"),
    ("backup/forward", lambda t: t in ("backup", "forward")),
    ("voice", lambda t: t.startswith("voice:")),
    ("staff", lambda t: t.startswith("staff:")),
    ("stem", lambda t: t.startswith("stem:")),
    ("beam", lambda t: t.startswith("beam:")),
    ("accidental", lambda t: t in "sharp flat natural double-sharp flat-flat natural-sharp natural-flat".split()),
    ("dot", lambda t: t == "dot"),
    ("key/time/clef", lambda t: t.startswith(("key:", "clef:", "beats:", "beat-type:")) or t == "time"),
    ("tie/tuplet/slur", lambda t: t.startswith(("tied:", "tuplet:", "slur:")) or "in" in t and t[0].isdigit()),
    ("other", lambda t: True),
]


def group_of(token):
    return next(g for g, test in GROUPS if test(token))


def align(ref, hyp):
    """Levenshtein alignment: per reference position 'ok' / 'sub' / 'del', and the inserted hyp ids."""
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), dtype=np.int32)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    r, h = np.asarray(ref), np.asarray(hyp)
    for i in range(1, n + 1):
        sub = d[i - 1, :-1] + (h != r[i - 1])
        row = np.minimum(sub, d[i - 1, 1:] + 1)
        out = np.empty(m + 1, dtype=np.int32)
        out[0] = i
        out[1:] = row
        for j in range(1, m + 1):
            if out[j - 1] + 1 < out[j]:
                out[j] = out[j - 1] + 1
        d[i] = out
    marks, inserted = [None] * n, []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            marks[i - 1] = "ok" if ref[i - 1] == hyp[j - 1] else "sub"
            i, j = i - 1, j - 1
        elif i > 0 and d[i, j] == d[i - 1, j] + 1:
            marks[i - 1] = "del"
            i -= 1
        else:
            inserted.append(hyp[j - 1])
            j -= 1
    return marks, inserted


def measure(model, layout, names, items, frames, events, batch=8):
    start = layout.block_start[LMX]
    name = lambda i: names[i - start] if start <= i < start + len(names) else "?"  # noqa: E731
    stats = {g: {"ref": 0, "sub": 0, "del": 0, "ins": 0, "tf_ok": 0} for g, _ in GROUPS}
    edits = total = ctc_edits = ctc_total = hyp_len = 0
    ends_early = loops = 0
    for group, hyps, reads, memory, mask in T.DevSet(items).readings(model, layout, batch):
        ids_list = [ids for _, _, ids in group]
        tf_pred = T.teacher_forced(model, layout, frames, memory, mask, ids_list)
        for ids, hyp, tfp, read in zip(ids_list, hyps, tf_pred, reads):
            ref = [start + i for i in ids]
            marks, inserted = align(ref, hyp)
            for tok, mark, p in zip(ref, marks, tfp):
                g = stats[group_of(name(tok))]
                g["ref"] += 1
                if mark != "ok":
                    g[mark] += 1
                g["tf_ok"] += int(p == tok)
            for tok in inserted:
                stats[group_of(name(tok))]["ins"] += 1
            n_edits = sum(m != "ok" for m in marks) + len(inserted)
            assert n_edits == T.edit_distance(hyp, ref), "the alignment must cost the edit distance"
            edits += n_edits
            total += len(ref)
            hyp_len += len(hyp)
            ends_early += len(hyp) < 0.8 * len(ref)
            loops += len(hyp) >= int(1.5 * len(ref)) + 20
            gold = events.of(ids)
            ctc_edits += T.edit_distance(read, gold) if gold else len(read)
            ctc_total += len(gold)
    return stats, {"ser": 100.0 * edits / max(total, 1), "ctc_error": 100.0 * ctc_edits / max(ctc_total, 1),
                   "hyp/ref length": hyp_len / max(total, 1), "short outputs (<0.8)": ends_early,
                   "runaway outputs": loops, "items": len(items), "ref tokens": total}


def load_items(build, split, count, ids):
    recs = [json.loads(line) for line in open(os.path.join(build, f"{split}.jsonl"))]
    recs = T.spread(sorted((r for r in recs if r.get("kind") == "system"), key=lambda r: r["id"]), count)
    return [(r["id"], T.read_gray(os.path.join(build, r["image"])), [ids[t] for t in r["lmx"].split() if t in ids])
            for r in recs]


def table(title, stats, summary):
    print(f"\n{title}: SER {summary['ser']:.2f}, CTC reading error {summary['ctc_error']:.1f} %, "
          f"hyp/ref length {summary['hyp/ref length']:.2f}, {summary['short outputs (<0.8)']} short and "
          f"{summary['runaway outputs']} runaway of {summary['items']} ({summary['ref tokens']} reference tokens)")
    print("| group | share of ref | greedy sub % | del % | ins (per ref) % | greedy errors, share of all | teacher-forced correct % |")
    print("|---|---|---|---|---|---|---|")
    all_err = sum(v["sub"] + v["del"] + v["ins"] for v in stats.values())
    total = sum(v["ref"] for v in stats.values())
    for g, v in sorted(stats.items(), key=lambda kv: -(kv[1]["sub"] + kv[1]["del"] + kv[1]["ins"])):
        if not v["ref"] and not v["ins"]:
            continue
        r = max(v["ref"], 1)
        err = v["sub"] + v["del"] + v["ins"]
        print(f"| {g} | {100 * v['ref'] / total:.1f} | {100 * v['sub'] / r:.1f} | {100 * v['del'] / r:.1f} | "
              f"{100 * v['ins'] / r:.1f} | {100 * err / max(all_err, 1):.1f} | {100 * v['tf_ok'] / r:.1f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", default="models/default")
    ap.add_argument("--systems", required=True, help="a data factory build of the dev split")
    ap.add_argument("--train-systems", help="a data factory build of the train split")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--models", default="models/default", help="bundle whose vocabulary the tokens use")
    ap.add_argument("--umt", default="build/umt")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pixel-channels", type=int, nargs=4)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = True
    vocab = load_manifest(args.models)["vocabulary"]
    layout = Layout(vocab)
    names = lmx_names(args.umt)
    ids = {t: i for i, t in enumerate(names)}
    events = LmxEvents(names)
    net = default_network(256, 4, 3, 3, image_stem="pixels8", code_vectors=True, aux_ctc=events.classes,
                          pixel_channels=args.pixel_channels)
    if not os.path.isdir(args.init):
        net = torch.load(args.init, map_location="cpu")["network"]
    else:  # a bundle: its own I2A network where the manifest records one
        net = dict(load_manifest(args.init).get("networks", {}).get("i2a", net))
    model = Translator(vocab, net)
    info = T.init_weights(model, args.init)
    if info["fresh"]:
        sys.exit(f"omr_errors: {args.init} lacks weights of this network: {info['fresh'][:4]}")
    model.eval()
    frames = Frames(layout)
    sets = [("dev systems", args.systems, "dev")]
    if args.train_systems:
        sets.append(("train systems", args.train_systems, "train"))
    for title, build, split in sets:
        items = load_items(build, split, args.count, ids)
        stats, summary = measure(model, layout, names, items, frames, events)
        table(f"{title} ({args.init})", stats, summary)


if __name__ == "__main__":
    main()
