"""Per-system LMX and the checks that pair it with the engraved systems.

The LMX of each system comes from `umt convert --systems` on the MusicXML with
<print new-system="yes"> inserted exactly where the engraver broke systems. An
independent token-level slicer (split a whole-piece LMX at `measure`, restate key and
clefs) cross-checks it where a reference LMX exists (OpenScore Lieder).
"""
import os
import re
import subprocess
import tempfile

from . import musicxml

PITCH = re.compile(r"^[A-G][0-9]$")
ATTRIBUTE = re.compile(r"^(key:fifths:-?\d+|time|beats:\d+|beat-type:\d+|clef:[GCF]\d)$")


def convert_systems(umt, xml_path):
    """One token list per system, from umt."""
    with tempfile.TemporaryDirectory(prefix="umt-lmx-") as d:
        out = os.path.join(d, "systems.lmx")
        subprocess.run([umt, "-q", "convert", xml_path, "-o", out, "--systems"],
                       check=True, capture_output=True, text=True, timeout=300)
        with open(out) as f:
            return [line.split() for line in f.read().splitlines() if line.strip()]


def convert_whole(umt, xml_path):
    with tempfile.TemporaryDirectory(prefix="umt-lmx-") as d:
        out = os.path.join(d, "whole.lmx")
        subprocess.run([umt, "-q", "convert", xml_path, "-o", out],
                       check=True, capture_output=True, text=True, timeout=300)
        with open(out) as f:
            return f.read().split()


def split_measures(tokens):
    measures = []
    for t in tokens:
        if t == "measure":
            measures.append([t])
        elif measures:
            measures[-1].append(t)
    return measures


def slice_systems(tokens, measure_counts, staves=2):
    """Splits whole-piece LMX into systems and restates key and clefs (LMX.md)."""
    measures = split_measures(tokens)
    if sum(measure_counts) != len(measures):
        raise ValueError(f"LMX has {len(measures)} measures, layout {sum(measure_counts)}")
    key = None
    clefs = {}
    out = []
    i = 0
    for si, count in enumerate(measure_counts):
        system = []
        for k in range(count):
            m = measures[i]
            i += 1
            if k == 0 and si > 0:
                # Leading attributes of this measure, then the restated state around them.
                j = 1
                while j < len(m) and (ATTRIBUTE.match(m[j]) or (m[j].startswith("staff:") and m[j - 1].startswith("clef:"))):
                    j += 1
                lead, rest = m[1:j], m[j:]
                own_key = next((t for t in lead if t.startswith("key:")), None)
                time_toks = [t for t in lead if t == "time" or t.startswith("beats:") or t.startswith("beat-type:")]
                own_clefs = {}
                for a, b in zip(lead, lead[1:] + [""]):
                    if a.startswith("clef:"):
                        own_clefs[int(b.split(":")[1]) if b.startswith("staff:") else 1] = a
                new = ["measure"]
                if own_key or key:
                    new.append(own_key or key)
                new += time_toks
                for s in sorted(set(clefs) | set(own_clefs)):
                    new.append(own_clefs.get(s, clefs.get(s)))
                    if staves > 1:
                        new.append(f"staff:{s}")
                m = new + rest
            for a, b in zip(m, m[1:] + [""]):
                if a.startswith("key:"):
                    key = a
                elif a.startswith("clef:"):
                    clefs[int(b.split(":")[1]) if b.startswith("staff:") else 1] = a
            system += m
        out.append(system)
    return out


def pitch_tokens(tokens):
    return [t for t in tokens if PITCH.match(t)]


def musicxml_pitches(tree, first, count):
    """Step+octave of every pitched <note> in measures [first, first+count), document order."""
    part = tree.getroot().findall("part")[musicxml.piano_part_index(tree.getroot())]
    measures = part.findall("measure")[first:first + count]
    out = []
    for m in measures:
        for n in m.findall("note"):
            p = n.find("pitch")
            if p is not None:
                out.append(f"{(p.findtext('step') or '').strip()}{(p.findtext('octave') or '').strip()}")
    return out


def check_system(tokens, tree, first, count):
    """Problems (empty when fine) pairing one system's LMX with its measures."""
    problems = []
    n_measures = tokens.count("measure")
    if n_measures != count:
        problems.append(f"LMX has {n_measures} measures, the system {count}")
    want = musicxml_pitches(tree, first, count)
    got = pitch_tokens(tokens)
    # Chord members are written in ascending order in LMX, so compare as multisets.
    if len(want) != len(got):
        problems.append(f"LMX has {len(got)} pitches, the measures {len(want)}")
    elif sorted(want) != sorted(got):
        problems.append("LMX pitches differ from the measures' pitches")
    return problems
