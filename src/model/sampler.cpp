// Greedy and seeded top-k / top-p sampling over the sub-decoder's logits.
#include "sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace umt::model {

namespace {

std::mt19937_64 request_rng(uint64_t seed, size_t index) {
    std::seed_seq seq{uint32_t(seed), uint32_t(seed >> 32), uint32_t(index), uint32_t(uint64_t(index) >> 32)};
    return std::mt19937_64(seq);
}

int64_t sample_row(const float* logits, int64_t n, const SamplerOptions& s, std::mt19937_64& rng) {
    std::vector<std::pair<float, int64_t>> cand;
    cand.reserve(256);
    for (int64_t i = 0; i < n; ++i)
        if (std::isfinite(logits[i])) cand.emplace_back(logits[i] / s.temperature, i);
    if (cand.empty()) return 0;
    std::sort(cand.begin(), cand.end(), [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    if (s.top_k > 0 && size_t(s.top_k) < cand.size()) cand.resize(size_t(s.top_k));
    double mx = cand[0].first, total = 0.0;
    std::vector<double> prob(cand.size());
    for (size_t i = 0; i < cand.size(); ++i) total += prob[i] = std::exp(double(cand[i].first) - mx);
    size_t keep = cand.size();
    if (s.top_p < 1.0f) {
        double acc = 0.0;
        for (size_t i = 0; i < cand.size(); ++i) {
            acc += prob[i] / total;
            if (acc >= s.top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    double kept = std::accumulate(prob.begin(), prob.begin() + long(keep), 0.0);
    double u = std::uniform_real_distribution<double>(0.0, kept)(rng);
    for (size_t i = 0; i < keep; ++i) {
        u -= prob[i];
        if (u < 0.0) return cand[i].second;
    }
    return cand[keep - 1].second;
}

}  // namespace

Sampler::Sampler(const SamplerOptions& options, const std::vector<size_t>& request_indices) : options_(options) {
    for (size_t index : request_indices) rngs_.push_back(request_rng(options.seed, index));
}

void Sampler::pick(const torch::Tensor& logits, const std::vector<int64_t>& alive, int64_t* ids, int stride) {
    const int64_t n = int64_t(alive.size());
    if (options_.kind == SamplerOptions::Kind::Greedy) {
        torch::Tensor tok = logits.argmax(-1).contiguous();
        const auto* tp = tok.data_ptr<int64_t>();
        for (int64_t k = 0; k < n; ++k) ids[k * stride] = tp[k];
        return;
    }
    torch::Tensor lg = logits.to(torch::kFloat).contiguous();
    const float* lp = lg.data_ptr<float>();
    const int64_t vsize = lg.size(1);
    for (int64_t k = 0; k < n; ++k) ids[k * stride] = sample_row(lp + k * vsize, vsize, options_, rngs_[size_t(alive[size_t(k)])]);
}

}  // namespace umt::model
