"""The score as umt plays it: notes, tempo map and measure starts in score quarters.

`umt convert --no-repeats` renders the piano-only MusicXML to MIDI: measures in written order
(each engraved system is one contiguous audio span), 120 qpm until the first written tempo,
ties merged, graces, tremolos and dynamics realized. Its ticks over the ticks per quarter are
score quarters, which the humanizer warps. The measure starts come from the MusicXML and must
agree with the time signatures umt writes, which mark every measure (a pickup, a short last
measure) whose length differs from its signature.
"""
import bisect
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction

from . import midi, musicxml


@dataclass
class ScoreNote:
    onset_q: Fraction
    duration_q: Fraction
    pitch: int
    velocity: int


@dataclass
class Timeline:
    measure_start_q: list           # len = measures + 1 (the last is the end)
    notes: list = field(default_factory=list)      # ScoreNote, sorted by (onset, pitch)
    tempo_map: list = field(default_factory=list)  # [(quarter, qpm)] sorted, first at 0

    @property
    def measures(self):
        return len(self.measure_start_q) - 1

    def measure_at(self, q):
        """Index of the measure that holds quarter position q (clamped to the score)."""
        return min(max(bisect.bisect_right(self.measure_start_q, q) - 1, 0), self.measures - 1)

    def seconds_at(self, q):
        """Score time in seconds at quarter position q under the tempo map."""
        t = 0.0
        q = Fraction(q)
        for i, (q0, qpm) in enumerate(self.tempo_map):
            q1 = self.tempo_map[i + 1][0] if i + 1 < len(self.tempo_map) else None
            if q1 is not None and q >= q1:
                t += float(q1 - q0) * 60.0 / qpm
                continue
            return t + float(q - q0) * 60.0 / qpm
        return t


def _expressible(length):
    """Whether a measure length (quarters) is a MIDI time signature: beats / 2^k, 4 <= 2^k <= 64."""
    return any((length * Fraction(bt, 4)).denominator == 1 and 0 < length * Fraction(bt, 4) <= 255
               for bt in (4, 8, 16, 32, 64))


def check_meters(measure_start_q, meters, ticks_per_quarter, source):
    """Raises ValueError unless umt's time signatures fall on these measure starts and give
    every expressible measure its length."""
    starts_tick = {round(q * ticks_per_quarter): i for i, q in enumerate(measure_start_q[:-1])}
    for tick, beats, beat_type in meters:
        if tick not in starts_tick:
            raise ValueError(f"{source}: umt's time signature {beats}/{beat_type} at quarter "
                             f"{Fraction(tick, ticks_per_quarter)} is not at a measure start of the MusicXML")
    ticks = [m[0] for m in meters]
    for i in range(len(measure_start_q) - 1):
        q0, length = measure_start_q[i], measure_start_q[i + 1] - measure_start_q[i]
        k = bisect.bisect_right(ticks, round(q0 * ticks_per_quarter)) - 1
        if k < 0:
            raise ValueError(f"{source}: no time signature before measure {i + 1}")
        _, beats, beat_type = meters[k]
        if _expressible(length) and Fraction(4 * beats, beat_type) != length:
            raise ValueError(f"{source}: measure {i + 1} lasts {length} quarters in the MusicXML, "
                             f"umt plays it as {beats}/{beat_type}")


def from_midi(midi_path, measure_start_q):
    """The timeline of umt's score MIDI, with measure starts checked against its time signatures."""
    f = midi.read_ticks(midi_path)
    tpq = f.ticks_per_quarter
    check_meters(measure_start_q, f.meters, tpq, midi_path)
    notes = [ScoreNote(Fraction(n.on, tpq), Fraction(n.off - n.on, tpq), n.pitch, n.velocity) for n in f.notes]
    tempo_map = []
    for tick, us in f.tempos:
        q, qpm = Fraction(tick, tpq), 60e6 / us
        if tempo_map and tempo_map[-1][0] == q:
            tempo_map[-1] = (q, qpm)
        elif not tempo_map or tempo_map[-1][1] != qpm:
            tempo_map.append((q, qpm))
    return Timeline(list(measure_start_q), notes, tempo_map)


def render(umt, musicxml_path, midi_path, tree=None):
    """Writes umt's score MIDI of musicxml_path (measures as written) to midi_path and returns
    its timeline; tree is the parsed MusicXML when the caller has it."""
    p = subprocess.run([umt, "-q", "convert", musicxml_path, "-o", midi_path, "--no-repeats"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise ValueError(f"umt convert {musicxml_path} -> MIDI failed: {p.stderr.strip()[-300:]}")
    if tree is None:
        tree = musicxml.load(musicxml_path)
    return from_midi(midi_path, musicxml.measure_starts(tree))
