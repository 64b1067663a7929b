"""MusicXML for the factory: piano-part extraction, system breaks, and the score timeline.

The timeline (measure starts in quarters, notes, tempo map) is what ties the four
modalities together: it says which audio span each engraved system covers.
"""
import copy
import io
import zipfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction

STEP_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


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


@dataclass
class ScoreNote:
    onset_q: Fraction
    duration_q: Fraction
    pitch: int
    staff: int
    voice: str
    velocity: int
    measure: int


@dataclass
class Timeline:
    measure_start_q: list           # len = measures + 1 (the last is the end)
    notes: list = field(default_factory=list)
    tempo_map: list = field(default_factory=list)  # [(quarter, qpm)] sorted, first at 0

    @property
    def measures(self):
        return len(self.measure_start_q) - 1

    def seconds_at(self, q):
        """Score time in seconds at quarter position q under the written tempo map."""
        t = 0.0
        q = Fraction(q)
        for i, (q0, qpm) in enumerate(self.tempo_map):
            q1 = self.tempo_map[i + 1][0] if i + 1 < len(self.tempo_map) else None
            if q1 is not None and q >= q1:
                t += float(q1 - q0) * 60.0 / qpm
                continue
            return t + float(q - q0) * 60.0 / qpm
        return t


def _int(el, default=0):
    try:
        return int(float(el.text))
    except (AttributeError, TypeError, ValueError):
        return default


def timeline(tree, default_qpm=120.0):
    """Measure starts, sounding notes (ties merged) and tempo of the (single) part.

    Measures play in written order and the tempo defaults to 120 qpm, as umt convert
    writes score MIDI by default (no repeat expansion), so every engraved system is one
    contiguous audio span.
    """
    root = tree.getroot()
    part = root.findall("part")[piano_part_index(root)]
    divisions = 1
    start = Fraction(0)
    starts = [start]
    notes = []
    open_ties = {}
    tempo = []
    velocity = 80
    for mi, measure in enumerate(part.findall("measure")):
        cursor = Fraction(0)
        longest = Fraction(0)
        last_onset = Fraction(0)
        for el in measure:
            if el.tag == "attributes":
                d = el.find("divisions")
                if d is not None and _int(d) > 0:
                    divisions = _int(d)
            elif el.tag in ("backup", "forward"):
                dur = Fraction(_int(el.find("duration")), divisions)
                cursor += -dur if el.tag == "backup" else dur
                cursor = max(cursor, Fraction(0))
            elif el.tag in ("direction", "sound"):
                snd = el if el.tag == "sound" else el.find("sound")
                if snd is not None:
                    if snd.get("tempo"):
                        try:
                            qpm = float(snd.get("tempo"))
                            if 10 <= qpm <= 400:
                                tempo.append((start + cursor, qpm))
                        except ValueError:
                            pass
                    if snd.get("dynamics"):
                        try:
                            velocity = max(20, min(120, int(round(float(snd.get("dynamics")) * 0.9))))
                        except ValueError:
                            pass
            elif el.tag == "note":
                if el.find("grace") is not None or el.find("cue") is not None:
                    continue
                dur = Fraction(_int(el.find("duration")), divisions)
                if el.find("chord") is not None:
                    onset = last_onset
                else:
                    onset = cursor
                    last_onset = cursor
                    cursor += dur
                longest = max(longest, cursor, onset + dur)
                p = el.find("pitch")
                if p is None:
                    continue
                midi = (_int(p.find("octave"), 4) + 1) * 12 + STEP_SEMITONES.get((p.findtext("step") or "C").strip(), 0)
                alter = p.find("alter")
                if alter is not None:
                    try:
                        midi += int(round(float(alter.text)))
                    except (TypeError, ValueError):
                        pass
                ties = {t.get("type") for t in el.findall("tie")}
                abs_onset = start + onset
                if "stop" in ties and midi in open_ties:
                    n = open_ties.pop(midi)
                    n.duration_q = abs_onset + dur - n.onset_q
                    if "start" in ties:
                        open_ties[midi] = n
                    continue
                n = ScoreNote(abs_onset, dur, midi, _int(el.find("staff"), 1), el.findtext("voice") or "1", velocity, mi)
                notes.append(n)
                if "start" in ties:
                    open_ties[midi] = n
        longest = max(longest, cursor)
        start += longest
        starts.append(start)
    tempo.sort(key=lambda x: x[0])
    tempo_map = [(Fraction(0), tempo[0][1] if tempo and tempo[0][0] == 0 else default_qpm)]
    for q, qpm in tempo:
        if q == 0:
            continue
        if q == tempo_map[-1][0]:
            tempo_map[-1] = (q, qpm)
        elif qpm != tempo_map[-1][1]:
            tempo_map.append((q, qpm))
    notes = [n for n in notes if n.duration_q > 0]
    notes.sort(key=lambda n: (n.onset_q, n.pitch, -n.duration_q))
    # One key sounds once: a unison doubled by two voices is one note (the longest), and a
    # key struck again while still sounding ends the earlier note there (as MIDI must).
    merged, sounding = [], {}
    for n in notes:
        prev = sounding.get(n.pitch)
        if prev is not None and prev.onset_q == n.onset_q:
            continue
        if prev is not None and prev.onset_q + prev.duration_q > n.onset_q:
            prev.duration_q = n.onset_q - prev.onset_q
        sounding[n.pitch] = n
        merged.append(n)
    notes = merged
    return Timeline(starts, notes, tempo_map)
