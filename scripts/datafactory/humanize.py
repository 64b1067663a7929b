"""Score timeline (umt's score MIDI, datafactory/timeline.py) -> a humanized performance.

The performance is a smooth time warp of the score (tempo curve, phrase rubato, final
ritardando) plus per-note timing jitter, velocity shaping and sustain pedal. Because
the warp is a known function of score position, every measure (hence every system)
has an exact audio span.
"""
import math

import numpy as np

from .midi import Note


def _leading_pitches(groups):
    """{onset: notes struck there} -> {onset: the pitch that leads}: the highest note struck,
    unless a higher note struck earlier still sounds (the onset accompanies a held melody)."""
    lead, sounding = {}, []
    for onset_q in sorted(groups):
        sounding = [n for n in sounding if n.onset_q + n.duration_q > onset_q]
        top = max(n.pitch for n in groups[onset_q])
        if all(n.pitch < top for n in sounding):
            lead[onset_q] = top
        sounding += groups[onset_q]
    return lead


class Warp:
    """Quarter position -> performance seconds (monotone, piecewise linear on a fine grid)."""

    def __init__(self, tl, rng, step_q=1.0 / 12):
        end_q = float(tl.measure_start_q[-1]) + 4.0
        self.grid = np.arange(0.0, end_q + step_q, step_q)
        qpm = np.array([self._qpm_at(tl, q) for q in self.grid])
        base = rng.uniform(0.85, 1.15)
        period = rng.uniform(8.0, 20.0)
        phase = rng.uniform(0, 2 * math.pi)
        amp = rng.uniform(0.02, 0.08)
        drift = np.cumsum(rng.normal(0, 0.004, size=len(self.grid)))
        drift = np.clip(drift, -0.12, 0.12)
        factor = base * (1 + amp * np.sin(2 * math.pi * self.grid / period + phase) + drift)
        # Ritardando over the last four quarters of the piece.
        last_q = float(tl.measure_start_q[-1])
        rit_depth = rng.uniform(0.0, 0.35)
        rit = np.clip((self.grid - (last_q - 4.0)) / 4.0, 0, 1)
        factor *= 1 - rit_depth * rit
        factor = np.clip(factor, 0.5, 1.6)
        dt = step_q * 60.0 / (qpm * factor)
        self.times = np.concatenate([[0.0], np.cumsum(dt[:-1])])
        self.params = {"tempo_factor": round(base, 4), "rubato_amp": round(amp, 4),
                       "rubato_period_q": round(period, 3), "ritardando": round(rit_depth, 4)}

    @staticmethod
    def _qpm_at(tl, q):
        qpm = tl.tempo_map[0][1]
        for q0, v in tl.tempo_map:
            if float(q0) <= q:
                qpm = v
        return qpm

    def __call__(self, q):
        return float(np.interp(float(q), self.grid, self.times))


def perform(tl, rng):
    """(notes, pedals, warp): a humanized performance of the timeline.

    rng is a numpy Generator; the result is a deterministic function of its state.
    """
    warp = Warp(tl, rng)
    jitter_s = rng.uniform(0.004, 0.018)
    legato = rng.uniform(0.8, 1.0)
    arch_amp = rng.uniform(3, 10)
    arch_period = rng.uniform(8, 24)
    vel_scale = rng.uniform(0.85, 1.15)
    notes = []
    # Notes sounding together share one chord jitter; the top voice leads slightly and
    # sounds louder, as pianists voice melodies.
    groups = {}
    for n in tl.notes:
        groups.setdefault(n.onset_q, []).append(n)
    leading = _leading_pitches(groups)
    beat_len = 1.0
    for onset_q, group in sorted(groups.items()):
        chord_shift = rng.normal(0, jitter_s)
        top = leading.get(onset_q)
        mstart = tl.measure_start_q[tl.measure_at(onset_q)]
        for n in group:
            on = warp(onset_q) + chord_shift + rng.normal(0, jitter_s * 0.25)
            if n.pitch == top:
                on -= rng.uniform(0.0, 0.012)
            end = warp(onset_q + n.duration_q)
            dur = max(0.03, (end - warp(onset_q)) * legato)
            mpos = float(onset_q - mstart)
            accent = 6 if abs(mpos) < 1e-6 else (3 if abs(mpos - round(mpos / beat_len) * beat_len) < 1e-6 else 0)
            vel = n.velocity * vel_scale + arch_amp * math.sin(2 * math.pi * float(onset_q) / arch_period) + accent
            vel += 8 if n.pitch == top else 0
            vel += rng.normal(0, 4)
            on = max(0.0, on)
            notes.append(Note(on, on + dur, n.pitch, int(max(12, min(120, round(vel))))))
    notes.sort(key=lambda x: (x.onset_s, x.pitch))
    pedals = []
    if rng.random() < 0.7:
        # Legato pedalling: lift and re-press just after each measure (or half measure) starts.
        halves = rng.random() < 0.5
        for i in range(tl.measures):
            a, b = tl.measure_start_q[i], tl.measure_start_q[i + 1]
            points = [a, a + (b - a) / 2] if halves and b - a >= 2 else [a]
            for q in points:
                t = warp(q)
                if pedals:
                    pedals.append((max(pedals[-1][0] + 0.01, t + rng.uniform(0.0, 0.03)), False))
                pedals.append((pedals[-1][0] + rng.uniform(0.05, 0.12) if pedals else t + 0.05, True))
        if pedals:
            end = max(n.offset_s for n in notes) if notes else warp(tl.measure_start_q[-1])
            pedals.append((end + 0.05, False))
    return notes, pedals, warp
