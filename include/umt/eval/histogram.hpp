// Pitch and duration histograms and the 1-D earth mover's distance between them
// (for audio -> image evaluation: how far the notes read back from generated images
// are, as distributions, from the reference).
#pragma once

#include <vector>

#include "umt/core/performance.hpp"

namespace umt::eval {

// 128 bins, one per MIDI key, normalized to sum 1 (all zero when there are no notes).
std::vector<double> pitch_histogram(const std::vector<int>& midi_pitches);
std::vector<double> pitch_histogram(const Performance& perf);

// Durations are binned on a log2 scale: bin k holds durations whose
// log2(d / min) * bins_per_octave rounds to k (clamped to the range, d <= 0 -> bin 0).
// The defaults are meant for durations in quarter notes: 1/64 quarter (a 256th) to
// 16 quarters, two bins per octave, so even bins are the plain note types
// (256th ... 4 wholes) and odd bins catch dotted values and tuplets between them.
// For seconds, pass a range such as 1/64 s .. 16 s; the unit only has to agree.
struct DurationBinning {
    double min = 1.0 / 64.0;
    double max = 16.0;
    int bins_per_octave = 2;
    int bins() const;
};
std::vector<double> duration_histogram(const std::vector<double>& durations, const DurationBinning& binning = {});
std::vector<double> duration_histogram(const Performance& perf, const DurationBinning& binning);  // offset - onset, seconds

// Earth mover's distance between two histograms over the same ordered bins:
// Σ_k |CDF_a(k) - CDF_b(k)| × bin_width, after normalizing each to sum 1. Throws
// std::invalid_argument when the sizes differ. One empty histogram against a
// non-empty one gives the largest possible distance, (bins - 1) × bin_width; two
// empty histograms give 0.
double emd_1d(const std::vector<double>& a, const std::vector<double>& b, double bin_width = 1.0);

// In semitones.
double pitch_emd(const std::vector<int>& ref_pitches, const std::vector<int>& hyp_pitches);
double pitch_emd(const Performance& ref, const Performance& hyp);
// In octaves (log2 units): 1.0 = durations off by a factor 2 on average.
double duration_emd(const std::vector<double>& ref, const std::vector<double>& hyp, const DurationBinning& binning = {});

}  // namespace umt::eval
