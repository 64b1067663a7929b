"""MIDI files for the factory and the checks, through mido: notes and sustain pedal in seconds,
and the metrical view (ticks, tempo map, time signatures) that the score timeline reads.

The writer uses one fixed tempo (120 qpm, 480 ticks per quarter, so one tick is 1/960 s),
which keeps every performance timing exact to ~1 ms.
"""
import os
from dataclasses import dataclass, field

import mido

TICKS_PER_QUARTER = 480
TEMPO_US = 500000
TICKS_PER_SECOND = TICKS_PER_QUARTER * 1e6 / TEMPO_US
SUSTAIN = 64


@dataclass
class Note:
    onset_s: float
    offset_s: float
    pitch: int
    velocity: int


@dataclass
class TickNote:
    on: int
    off: int
    pitch: int
    velocity: int
    channel: int


@dataclass
class TickFile:
    """A MIDI file in ticks: every track merged, tempo and time signatures as written."""
    ticks_per_quarter: int
    notes: list = field(default_factory=list)     # TickNote, sorted by (on, pitch)
    pedals: list = field(default_factory=list)    # [(tick, down)] of CC64, sorted
    tempos: list = field(default_factory=list)    # [(tick, microseconds per quarter)], first at 0
    meters: list = field(default_factory=list)    # [(tick, beats, beat_type)]

    def seconds(self, tick):
        """Seconds at a tick under the file's tempo map."""
        t = 0.0
        for i, (t0, us) in enumerate(self.tempos):
            t1 = self.tempos[i + 1][0] if i + 1 < len(self.tempos) else None
            if t1 is not None and tick >= t1:
                t += (t1 - t0) * us / 1e6 / self.ticks_per_quarter
            else:
                return t + (tick - t0) * us / 1e6 / self.ticks_per_quarter
        return t


def read_ticks(path):
    """The notes, CC64 pedal, tempo map and time signatures of a format-0/1 SMF, in ticks.

    A note-off (or note-on at velocity 0) ends the earliest sounding note of its key and
    channel; tempo changes of any track apply to all (format 1 keeps them in the first).
    """
    mf = mido.MidiFile(path)
    if mf.type == 2:
        raise ValueError(f"{path}: format-2 MIDI (independent sequences) is not supported")
    if mf.ticks_per_beat <= 0:
        raise ValueError(f"{path}: SMPTE time division is not supported")
    events = []  # (tick, track, index, message): stable within a track
    for ti, track in enumerate(mf.tracks):
        tick = 0
        for k, msg in enumerate(track):
            tick += msg.time
            events.append((tick, ti, k, msg))
    events.sort(key=lambda e: e[:3])
    out = TickFile(mf.ticks_per_beat)
    sounding = {}
    for tick, _, _, msg in events:
        if msg.type == "set_tempo":
            out.tempos.append((tick, msg.tempo))
        elif msg.type == "time_signature":
            out.meters.append((tick, msg.numerator, msg.denominator))
        elif msg.type == "note_on" and msg.velocity > 0:
            sounding.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
        elif msg.type in ("note_on", "note_off"):
            stack = sounding.get((msg.channel, msg.note))
            if stack:
                on, vel = stack.pop(0)
                out.notes.append(TickNote(on, tick, msg.note, vel, msg.channel))
        elif msg.type == "control_change" and msg.control == SUSTAIN:
            out.pedals.append((tick, msg.value >= 64))
    out.tempos.sort(key=lambda e: e[0])
    if not out.tempos or out.tempos[0][0] != 0:
        out.tempos.insert(0, (0, TEMPO_US))
    out.notes.sort(key=lambda n: (n.on, n.pitch))
    return out


def read_midi(path):
    """(notes, pedals): notes in seconds and [(time_s, down)] sustain events, tempo map applied."""
    f = read_ticks(path)
    notes = [Note(f.seconds(n.on), f.seconds(n.off), n.pitch, n.velocity) for n in f.notes]
    notes.sort(key=lambda n: (n.onset_s, n.pitch))
    return notes, [(f.seconds(t), down) for t, down in f.pedals]


def write_midi(path, notes, pedals=(), program=0, channel=0):
    """notes: Note list; pedals: [(time_s, down)]. Format 0, one track, 120 qpm; atomic."""
    events = []  # (tick, order, message): pedal, then offs before ons at one tick
    ch = channel & 0x0F
    for n in notes:
        on = int(round(n.onset_s * TICKS_PER_SECOND))
        off = max(on + 1, int(round(n.offset_s * TICKS_PER_SECOND)))
        vel = max(1, min(127, int(n.velocity)))
        events.append((on, 2, mido.Message("note_on", channel=ch, note=n.pitch & 0x7F, velocity=vel)))
        events.append((off, 1, mido.Message("note_off", channel=ch, note=n.pitch & 0x7F, velocity=0)))
    for t, down in pedals:
        events.append((int(round(t * TICKS_PER_SECOND)), 0,
                       mido.Message("control_change", channel=ch, control=SUSTAIN, value=127 if down else 0)))
    events.sort(key=lambda e: (e[0], e[1]))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=TEMPO_US, time=0),
                            mido.Message("program_change", channel=ch, program=program & 0x7F, time=0)])
    last = 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    mf = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_QUARTER)
    mf.tracks.append(track)
    tmp = path + ".tmp"
    mf.save(tmp)
    os.replace(tmp, path)
