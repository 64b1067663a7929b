// MIDI -> Score: a best-effort piano score from a performance (tempo, grid, staves, voices, ties).
#pragma once

#include "umt/core/performance.hpp"
#include "umt/core/score.hpp"

namespace umt {

struct QuantizeOptions {
    double qpm = 0.0;          // > 0: play at this tempo; 0: the file's tempo map, else estimated
    int grid_per_quarter = 4;  // onsets and ends snap to 1/4 quarter (sixteenths)
    int split_pitch = 60;      // notes at or above go to the treble staff, below to the bass
    int beats = 4, beat_type = 4;
    int max_voices_per_staff = 2;
};

// Tempo that best aligns the onsets with a beat grid (a prior favours 60..160 qpm).
double estimate_qpm(const Performance& perf);

// Key (fifths, mode) from duration-weighted pitch classes (Krumhansl-Kessler profiles).
Key estimate_key(const Performance& perf);

// One two-staff part ("Piano"): chords, up to max_voices_per_staff voices per staff, ties across
// barlines, rests filling every voice, the time signature of the options, the estimated key, and
// the tempo as a <sound tempo> direction. Drum notes are left out.
Score quantize_performance(const Performance& perf, const QuantizeOptions& opts = {});

}  // namespace umt
