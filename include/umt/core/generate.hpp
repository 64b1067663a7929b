// Procedural piano music for training data: two-staff scores written into the Score model.
//
// The corpus caps how much (and how varied) notation the models see; this generator
// adds unlimited, seed-determined piano pieces that deliberately cover rare symbols
// (tuplets, ties, clef and key changes, accidentals, grace notes, second voices).
#pragma once

#include <cstdint>

#include "umt/core/score.hpp"

namespace umt {

struct GeneratorOptions {
    uint64_t seed = 0;
    int measures = 16;   // >= 1
};

// Same options, same score (bit for bit) on every platform: only the standardized
// mt19937_64 engine is used, never the implementation-defined std distributions.
// Every voice of every measure fills exactly the measure's length.
Score generate_piano_score(const GeneratorOptions& opts);

}  // namespace umt
