"""MusicXML for the factory: piano-part extraction, system breaks, and measure starts.

The measure starts (in quarters) tie the four modalities together: with the notes and tempo
of umt's MIDI (datafactory/timeline.py) they say which audio span each engraved system covers.
"""
import copy
import io
import math
import zipfile
import xml.etree.ElementTree as ET
from fractions import Fraction


def read_xml_bytes(path):
    """The MusicXML text of a .musicxml/.xml file or of an .mxl archive's root file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"PK":
        return data
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        root_path = None
        if "META-INF/container.xml" in z.namelist():
            container = ET.fromstring(z.read("META-INF/container.xml"))
            for el in container.iter():
                if el.tag.endswith("rootfile") and el.get("full-path"):
                    root_path = el.get("full-path")
                    break
        if root_path is None:
            root_path = next(n for n in z.namelist() if n.endswith((".xml", ".musicxml")) and not n.startswith("META-INF"))
        return z.read(root_path)


def load(path):
    return ET.ElementTree(ET.fromstring(read_xml_bytes(path)))


def _staves_of(part):
    for st in part.iter("staves"):
        try:
            return int(st.text)
        except (TypeError, ValueError):
            return 1
    return 1


def piano_part_index(root):
    """Like umt's Score::default_part_index: the first two-staff part, else the last."""
    parts = root.findall("part")
    if not parts:
        raise ValueError("score has no parts")
    for i, p in enumerate(parts):
        if _staves_of(p) == 2:
            return i
    return len(parts) - 1


def piano_only(tree):
    """A copy with only the piano part and no layout, so engravers break freely.

    Page layout (<defaults>, <credit>, <print>) is dropped: system breaks come from the
    engraver we run, and we read them back from its layout output.
    """
    root = copy.deepcopy(tree.getroot())
    idx = piano_part_index(root)
    parts = root.findall("part")
    keep_id = parts[idx].get("id")
    for i, p in enumerate(parts):
        if i != idx:
            root.remove(p)
    part_list = root.find("part-list")
    if part_list is not None:
        for child in list(part_list):
            if child.tag == "part-group" or (child.tag == "score-part" and child.get("id") != keep_id):
                part_list.remove(child)
    for tag in ("defaults", "credit"):
        for el in root.findall(tag):
            root.remove(el)
    part = root.find("part")
    for measure in part.findall("measure"):
        for pr in measure.findall("print"):
            measure.remove(pr)
    return ET.ElementTree(root)


def insert_system_breaks(tree, first_measures):
    """A copy with <print new-system="yes"/> opening each listed measure (0-based) but 0."""
    root = copy.deepcopy(tree.getroot())
    measures = root.find("part").findall("measure")
    for i in first_measures:
        if i == 0:
            continue
        m = measures[i]
        for pr in m.findall("print"):
            m.remove(pr)
        pr = ET.Element("print", {"new-system": "yes"})
        m.insert(0, pr)
    return ET.ElementTree(root)


def write(tree, path):
    data = ET.tostring(tree.getroot(), encoding="unicode")
    header = ('<?xml version="1.0" encoding="UTF-8"?>\n'
              '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" '
              '"http://www.musicxml.org/dtds/partwise.dtd">\n')
    with open(path, "w", encoding="utf-8") as f:
        f.write(header + data)


def _int(el, default=0):
    try:
        return int(el.text.strip())
    except (AttributeError, TypeError, ValueError):
        return default


def _quarters(text, divisions):
    """A <duration> in quarters as umt reads it: whole divisions, else decimals to 1/1024."""
    text = (text or "").strip()
    if not text or divisions <= 0:
        return Fraction(0)
    if text.isdigit():
        return Fraction(int(text), divisions)
    try:
        v = float(text)
    except ValueError:
        return Fraction(0)
    if not math.isfinite(v) or v < 0 or v > 1e9:
        return Fraction(0)
    return Fraction(round(v * 1024), 1024 * divisions)


def measure_starts(tree):
    """Where each measure starts when played as written, in quarters (one more: the end).

    umt's rule: a measure lasts as far as any part's cursor reaches (graces and chord members
    take no time), an empty one as long as its time signature says. The notes themselves
    come from umt's MIDI; these starts are checked against the time signatures it writes.
    """
    parts = tree.getroot().findall("part")
    counts = [len(p.findall("measure")) for p in parts]
    n = max(counts, default=0)
    lengths = [Fraction(0)] * n
    signatures = [None] * n  # (beats, beat_type) in force, from the first part
    for pi, part in enumerate(parts):
        divisions = 1
        time = (4, 4)
        for mi, measure in enumerate(part.findall("measure")):
            pos = furthest = Fraction(0)
            for el in measure:
                if el.tag == "attributes":
                    d = _int(el.find("divisions"))
                    if d > 0:
                        divisions = d
                    t = el.find("time")
                    if t is not None:
                        beats, beat_type = _int(t.find("beats")), _int(t.find("beat-type"))
                        if beats > 0 and beat_type > 0:
                            time = (beats, beat_type)
                elif el.tag == "note":
                    if el.find("grace") is None and el.find("chord") is None:
                        pos += _quarters(el.findtext("duration"), divisions)
                elif el.tag == "backup":
                    pos = max(Fraction(0), pos - _quarters(el.findtext("duration"), divisions))
                elif el.tag == "forward":
                    pos += _quarters(el.findtext("duration"), divisions)
                furthest = max(furthest, pos)
            lengths[mi] = max(lengths[mi], furthest)
            if pi == 0:
                signatures[mi] = time
    starts = [Fraction(0)]
    time = (4, 4)
    for mi in range(n):
        time = signatures[mi] or time
        starts.append(starts[-1] + (lengths[mi] or Fraction(time[0] * 4, time[1])))
    return starts
