// What a target format cannot hold of a score or performance, counted per kind, so that
// `umt convert` can say what it dropped instead of dropping it silently.
#pragma once

#include <string>
#include <vector>

#include "umt/core/performance.hpp"
#include "umt/core/score.hpp"

namespace umt {

struct LossCount {
    std::string what;  // plural noun phrase: "lyrics", "hairpins", "notes in other parts"
    long count = 0;
};
using Losses = std::vector<LossCount>;  // only kinds with count > 0, in a fixed order

// LMX of part `part_index`: lyrics, dynamics, directions, repeats, endings, barline styles,
// harmony, fingering... of every part, plus the notes of the parts not written.
Losses lmx_losses(const Score& score, size_t part_index);

// MIDI rendered by core/playback: notation that does not sound (lyrics, text, hairpins,
// pedal marks, slurs, articulations, fermatas, ornaments, jumps), and the repeats when
// they are not played. `part` < 0: all parts are written; else the others are lost too.
Losses midi_losses(const Score& score, bool repeats_played, int part = -1);

// MIDI -> notation through the quantizer: what a score cannot hold of a performance.
Losses quantize_losses(const Performance& perf);

// "120 lyrics, 2 repeats" (empty when nothing is lost).
std::string describe(const Losses& losses);

}  // namespace umt
