// MIDI -> Score: a piano score from a performance or a score MIDI (beats, metre, grid, staves,
// voices, key and spelling, ties, tuplets).
#pragma once

#include <vector>

#include "umt/core/performance.hpp"
#include "umt/core/score.hpp"

namespace umt {

struct QuantizeOptions {
    double qpm = 0.0;          // > 0: a steady performance at this tempo (no beat tracking)
    int beats = 0;             // > 0 with beat_type: this time signature; 0: the file's, else estimated
    int beat_type = 0;
    int split_pitch = 0;       // > 0: staves split at this key (notes at or above: treble); 0: by continuity and hand span
    int max_voices_per_staff = 2;
    bool triplets = true;      // beats may be divided in three
};

// Beat times (seconds) of a performance: onset strength, a tempo prior and dynamic programming
// over the beat positions (Ellis 2007), each beat then drawn onto the onsets near it.
std::vector<double> track_beats(const Performance& perf);

// Tempo of the tracked beats (quarters per minute, the beat taken as a quarter).
double estimate_qpm(const Performance& perf);

// True when the notes sit on a grid of the file's ticks under its tempo map (a score MIDI,
// written by a notation program), so the file's own tempo map and metre place them.
bool is_score_midi(const Performance& perf);

// Key (fifths, mode) from duration-weighted pitch classes (Krumhansl-Kessler profiles).
Key estimate_key(const Performance& perf);

// The spelling of a MIDI key in a key and near the recent notes: the step whose position on the
// line of fifths is closest to their centre (C = 0, G = 1, F = -1; F# = 6, Gb = -6).
Pitch spell_pitch(int midi, double fifths_centre);

// One two-staff part ("Piano"). A score MIDI keeps its tempo map, time and key signatures and
// barlines; a performance is beat-tracked, its metre and downbeat estimated. Each beat takes
// the grid (halves, quarters, eighths of a beat, or thirds and sixths: triplets) that fits its
// onsets best; staves follow the hands (pitch continuity, hand span, a weak middle-C prior);
// up to max_voices_per_staff voices; pitches spelled in the estimated key; ties across
// barlines and beats; stems and beams. Drum notes are left out.
Score quantize_performance(const Performance& perf, const QuantizeOptions& opts = {});

}  // namespace umt
