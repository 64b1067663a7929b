// Pitch and duration histograms and their 1-D earth mover's distance.
#include "umt/eval/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace umt::eval {

std::vector<double> pitch_histogram(const std::vector<int>& midi_pitches) {
    std::vector<double> h(128, 0.0);
    std::size_t n = 0;
    for (int p : midi_pitches)
        if (p >= 0 && p < 128) {
            h[static_cast<std::size_t>(p)] += 1.0;
            ++n;
        }
    if (n)
        for (double& x : h) x /= double(n);
    return h;
}

std::vector<double> pitch_histogram(const Performance& perf) {
    std::vector<int> pitches;
    for (const auto& n : perf.notes) pitches.push_back(n.pitch);
    return pitch_histogram(pitches);
}

int DurationBinning::bins() const {
    if (!(min > 0.0) || !(max > min) || bins_per_octave < 1)
        throw std::invalid_argument("duration binning needs 0 < min < max and bins_per_octave >= 1");
    return static_cast<int>(std::lround(std::log2(max / min) * bins_per_octave)) + 1;
}

std::vector<double> duration_histogram(const std::vector<double>& durations, const DurationBinning& binning) {
    const int n_bins = binning.bins();
    std::vector<double> h(static_cast<std::size_t>(n_bins), 0.0);
    for (double d : durations) {
        long k = 0;
        if (d > 0.0) k = std::lround(std::log2(d / binning.min) * binning.bins_per_octave);
        k = std::clamp(k, 0L, long(n_bins - 1));
        h[static_cast<std::size_t>(k)] += 1.0;
    }
    if (!durations.empty())
        for (double& x : h) x /= double(durations.size());
    return h;
}

std::vector<double> duration_histogram(const Performance& perf, const DurationBinning& binning) {
    std::vector<double> d;
    for (const auto& n : perf.notes) d.push_back(n.offset_s - n.onset_s);
    return duration_histogram(d, binning);
}

double emd_1d(const std::vector<double>& a, const std::vector<double>& b, double bin_width) {
    if (a.size() != b.size()) throw std::invalid_argument("emd_1d: histograms have different numbers of bins");
    double sa = 0, sb = 0;
    for (double x : a) sa += x;
    for (double x : b) sb += x;
    if (sa <= 0.0 && sb <= 0.0) return 0.0;
    if (sa <= 0.0 || sb <= 0.0) return a.empty() ? 0.0 : double(a.size() - 1) * bin_width;
    // In 1-D the optimal transport cost is the area between the two CDFs.
    double ca = 0, cb = 0, total = 0;
    for (std::size_t k = 0; k + 1 < a.size(); ++k) {
        ca += a[k] / sa;
        cb += b[k] / sb;
        total += std::fabs(ca - cb);
    }
    return total * bin_width;
}

double pitch_emd(const std::vector<int>& ref_pitches, const std::vector<int>& hyp_pitches) {
    return emd_1d(pitch_histogram(ref_pitches), pitch_histogram(hyp_pitches), 1.0);
}

double pitch_emd(const Performance& ref, const Performance& hyp) {
    return emd_1d(pitch_histogram(ref), pitch_histogram(hyp), 1.0);
}

double duration_emd(const std::vector<double>& ref, const std::vector<double>& hyp, const DurationBinning& binning) {
    return emd_1d(duration_histogram(ref, binning), duration_histogram(hyp, binning), 1.0 / binning.bins_per_octave);
}

}  // namespace umt::eval
