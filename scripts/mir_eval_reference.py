#!/usr/bin/python3
"""Reference note metrics from mir_eval.transcription, to check umt's C++ port.

Reads a JSON document {"cases": [{"ref": [[onset_s, offset_s, midi], ...],
"hyp": [...], "onset_tolerance": 0.05, "offset_ratio": 0.2,
"offset_min_tolerance": 0.05, "pitch_tolerance": 50.0}, ...]} from the file named
on the command line (or stdin) and prints {"results": [{"onset": [P, R, F1],
"onset_offset": [P, R, F1]}, ...]} with every figure as mir_eval computes it
(onset = precision_recall_f1_overlap with offset_ratio=None, i.e. onset + pitch).
"""
import json
import sys
import warnings

import numpy as np
import mir_eval


def to_arrays(notes):
    if not notes:
        return np.zeros((0, 2)), np.zeros(0)
    a = np.array(notes, dtype=float)
    return a[:, :2], mir_eval.util.midi_to_hz(a[:, 2])


def score(case):
    ref_iv, ref_hz = to_arrays(case["ref"])
    hyp_iv, hyp_hz = to_arrays(case["hyp"])
    common = dict(onset_tolerance=case.get("onset_tolerance", 0.05),
                  pitch_tolerance=case.get("pitch_tolerance", 50.0))
    out = {}
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_iv, ref_hz, hyp_iv, hyp_hz, offset_ratio=None, **common)
    out["onset"] = [p, r, f]
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_iv, ref_hz, hyp_iv, hyp_hz,
        offset_ratio=case.get("offset_ratio", 0.2),
        offset_min_tolerance=case.get("offset_min_tolerance", 0.05), **common)
    out["onset_offset"] = [p, r, f]
    return out


def main():
    src = open(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "-" else sys.stdin
    doc = json.load(src)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty note lists warn; their scores are 0
        results = [score(c) for c in doc["cases"]]
    json.dump({"mir_eval_version": mir_eval.__version__, "results": results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
