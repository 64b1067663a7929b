"""A small Standard MIDI File writer and reader (notes, sustain pedal, tempo).

Times are seconds: the writer uses one fixed tempo (120 qpm, 480 ticks per quarter,
so one tick is 1/960 s), which keeps every performance timing exact to ~1 ms.
"""
import struct
from dataclasses import dataclass

TICKS_PER_QUARTER = 480
TEMPO_US = 500000
TICKS_PER_SECOND = TICKS_PER_QUARTER * 1e6 / TEMPO_US


@dataclass
class Note:
    onset_s: float
    offset_s: float
    pitch: int
    velocity: int


def _varlen(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes(reversed(out))


def write_midi(path, notes, pedals=(), program=0, channel=0):
    """notes: Note list; pedals: [(time_s, down)]. Format 0, one track."""
    events = []  # (tick, order, bytes): offs before ons at one tick
    ch = channel & 0x0F
    for n in notes:
        on = int(round(n.onset_s * TICKS_PER_SECOND))
        off = max(on + 1, int(round(n.offset_s * TICKS_PER_SECOND)))
        vel = max(1, min(127, int(n.velocity)))
        events.append((on, 2, bytes([0x90 | ch, n.pitch & 0x7F, vel])))
        events.append((off, 1, bytes([0x80 | ch, n.pitch & 0x7F, 0])))
    for t, down in pedals:
        events.append((int(round(t * TICKS_PER_SECOND)), 0, bytes([0xB0 | ch, 64, 127 if down else 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    track = bytearray()
    track += b"\x00\xff\x51\x03" + TEMPO_US.to_bytes(3, "big")
    track += b"\x00" + bytes([0xC0 | ch, program & 0x7F])
    last = 0
    for tick, _, data in events:
        track += _varlen(tick - last) + data
        last = tick
    track += b"\x00\xff\x2f\x00"
    data = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER) + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    import os
    os.replace(tmp, path)


def _read_varlen(data, pos):
    """Reads a variable-length quantity at pos; returns (value, position after it)."""
    value = 0
    while True:
        b = data[pos]
        pos += 1
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, pos


def read_midi(path):
    """Notes (seconds) and pedal events of any format-0/1 SMF, honouring tempo changes."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"MThd":
        raise ValueError(f"{path}: not a MIDI file")
    _, fmt, ntracks, division = struct.unpack(">IHHH", data[4:14])
    if division & 0x8000:
        raise ValueError(f"{path}: SMPTE time division is not supported")
    pos = 14
    raw = []  # (tick, kind, a, b, channel)
    tempos = []
    for _ in range(ntracks):
        if data[pos:pos + 4] != b"MTrk":
            raise ValueError(f"{path}: bad track header")
        length = struct.unpack(">I", data[pos + 4:pos + 8])[0]
        end = pos + 8 + length
        pos += 8
        tick = 0
        status = 0
        while pos < end:
            delta, pos = _read_varlen(data, pos)
            tick += delta
            b = data[pos]
            if b == 0xFF:
                mtype, pos = data[pos + 1], pos + 2
                ln, pos = _read_varlen(data, pos)
                if mtype == 0x51:
                    tempos.append((tick, int.from_bytes(data[pos:pos + 3], "big")))
                pos += ln
                continue
            if b in (0xF0, 0xF7):
                pos += 1
                ln, pos = _read_varlen(data, pos)
                pos += ln
                continue
            if b & 0x80:
                status = b
                pos += 1
            kind = status & 0xF0
            nbytes = 1 if kind in (0xC0, 0xD0) else 2
            args = data[pos:pos + nbytes]
            pos += nbytes
            raw.append((tick, kind, args[0], args[1] if nbytes == 2 else 0, status & 0x0F))
        pos = end
    tempos.sort()
    if not tempos or tempos[0][0] != 0:
        tempos.insert(0, (0, 500000))

    def seconds(tick):
        t = 0.0
        for i, (t0, us) in enumerate(tempos):
            t1 = tempos[i + 1][0] if i + 1 < len(tempos) else None
            if t1 is not None and tick >= t1:
                t += (t1 - t0) * us / 1e6 / division
            else:
                return t + (tick - t0) * us / 1e6 / division
        return t

    raw.sort(key=lambda e: e[0])
    notes, pedals, open_notes = [], [], {}
    for tick, kind, a, b, ch in raw:
        t = seconds(tick)
        if kind == 0x90 and b > 0:
            open_notes.setdefault((ch, a), []).append((t, b))
        elif kind == 0x80 or (kind == 0x90 and b == 0):
            stack = open_notes.get((ch, a))
            if stack:
                on, vel = stack.pop(0)
                notes.append(Note(on, t, a, vel))
        elif kind == 0xB0 and a == 64:
            pedals.append((t, b >= 64))
    notes.sort(key=lambda n: (n.onset_s, n.pitch))
    return notes, pedals
