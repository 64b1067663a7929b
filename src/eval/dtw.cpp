// Dynamic time warping and performance-to-reference alignment.
#include "umt/eval/dtw.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

namespace umt::eval {

DtwResult dtw(std::size_t n, std::size_t m, const std::function<double(std::size_t, std::size_t)>& cost) {
    if (n == 0 || m == 0) throw std::invalid_argument("dtw: both sequences need at least one element");
    enum : std::uint8_t { kDiag = 0, kUp = 1 /* from (i-1, j) */, kLeft = 2 /* from (i, j-1) */ };
    std::vector<std::uint8_t> back(n * m);
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> prev(m, inf), cur(m, inf);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < m; ++j) {
            double c = cost(i, j);
            if (i == 0 && j == 0) {
                cur[j] = c;
                back[0] = kDiag;
                continue;
            }
            double diag = (i && j) ? prev[j - 1] : inf;
            double up = i ? prev[j] : inf;
            double left = j ? cur[j - 1] : inf;
            std::uint8_t step = kDiag;
            double best = diag;
            if (up < best) { best = up; step = kUp; }
            if (left < best) { best = left; step = kLeft; }
            cur[j] = best + c;
            back[i * m + j] = step;
        }
        std::swap(prev, cur);
    }
    DtwResult r;
    r.cost = prev[m - 1];
    std::size_t i = n - 1, j = m - 1;
    for (;;) {
        r.path.emplace_back(i, j);
        if (i == 0 && j == 0) break;
        switch (back[i * m + j]) {
            case kDiag: --i; --j; break;
            case kUp: --i; break;
            default: --j; break;
        }
    }
    std::reverse(r.path.begin(), r.path.end());
    return r;
}

double cosine_distance(const std::vector<float>& a, const std::vector<float>& b) {
    double dot = 0, na = 0, nb = 0;
    for (std::size_t k = 0; k < std::min(a.size(), b.size()); ++k) dot += double(a[k]) * b[k];
    for (float x : a) na += double(x) * x;
    for (float x : b) nb += double(x) * x;
    if (na == 0.0 && nb == 0.0) return 0.0;
    if (na == 0.0 || nb == 0.0) return 1.0;
    return 1.0 - dot / std::sqrt(na * nb);
}

DtwResult dtw_features(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
    return dtw(a.size(), b.size(), [&](std::size_t i, std::size_t j) { return cosine_distance(a[i], b[j]); });
}

std::vector<std::vector<float>> chroma_frames(const Performance& perf, double hop_s) {
    if (!(hop_s > 0.0)) throw std::invalid_argument("chroma_frames: hop must be positive");
    std::size_t frames = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(perf.end_s() / hop_s)));
    std::vector<std::vector<float>> out(frames, std::vector<float>(12, 0.0f));
    for (const auto& note : perf.notes) {
        if (note.is_drum()) continue;
        auto first = static_cast<std::size_t>(std::max(0.0, std::floor(note.onset_s / hop_s)));
        auto last = static_cast<std::size_t>(std::max(0.0, std::ceil(note.offset_s / hop_s)));
        last = std::max(last, first + 1);  // zero-length notes still count once
        for (std::size_t f = first; f < std::min(last, frames); ++f) out[f][static_cast<std::size_t>(((note.pitch % 12) + 12) % 12)] += 1.0f;
    }
    return out;
}

Performance align_to_reference(const Performance& ref, const Performance& hyp, double hop_s) {
    auto fr = chroma_frames(ref, hop_s), fh = chroma_frames(hyp, hop_s);
    DtwResult r = dtw_features(fr, fh);
    // For each hypothesis frame, the mean reference frame it is aligned to: a
    // monotone map because the path is monotone in both indices.
    std::vector<double> sum(fh.size(), 0.0), count(fh.size(), 0.0);
    for (auto [i, j] : r.path) {
        sum[j] += double(i);
        count[j] += 1.0;
    }
    std::vector<double> ref_frame(fh.size());
    for (std::size_t j = 0; j < fh.size(); ++j) ref_frame[j] = sum[j] / count[j];
    auto map_time = [&](double t) {
        double x = t / hop_s - 0.5;  // position in hypothesis frames, centre-based
        if (fh.size() == 1) return (ref_frame[0] + 0.5) * hop_s + (t - 0.5 * hop_s);
        double y;
        if (x <= 0.0) y = ref_frame[0] + x * (ref_frame[1] - ref_frame[0] > 0 ? ref_frame[1] - ref_frame[0] : 1.0);
        else if (x >= double(fh.size() - 1)) {
            std::size_t k = fh.size() - 1;
            double slope = ref_frame[k] - ref_frame[k - 1] > 0 ? ref_frame[k] - ref_frame[k - 1] : 1.0;
            y = ref_frame[k] + (x - double(k)) * slope;
        } else {
            auto k = static_cast<std::size_t>(x);
            double f = x - double(k);
            y = ref_frame[k] + f * (ref_frame[k + 1] - ref_frame[k]);
        }
        return std::max(0.0, (y + 0.5) * hop_s);
    };
    Performance out;
    out.notes = hyp.notes;
    for (auto& n : out.notes) {
        n.onset_s = map_time(n.onset_s);
        n.offset_s = std::max(n.onset_s, map_time(n.offset_s));
    }
    out.sort();
    return out;
}

}  // namespace umt::eval
