// Score -> Performance: how a score sounds when played exactly as written.
#pragma once

#include "umt/core/performance.hpp"
#include "umt/core/score.hpp"

namespace umt {

struct PlaybackOptions {
    bool expand_repeats = false;   // play repeats and voltas (--expand-repeats)
    double default_qpm = 120.0;    // tempo until the first <sound tempo>
    double grace_s = 0.06;         // grace notes: short, taken from before the beat
    bool grace_on_beat = false;    // MuseScore's way instead: graces on the beat, the principal delayed
    int default_velocity = 80;
    int part = -1;                 // -1: all parts; else that part only
};

Performance render_score(const Score& score, const PlaybackOptions& opts = {});

}  // namespace umt
