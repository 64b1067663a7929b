// The decoding loop's stop rule: end frame, length limit, repetition stop.
#include "umt/model/stop_rule.hpp"

#include <algorithm>

namespace umt::model {

using tokens::Frame;

size_t repeated_tail(const std::vector<Frame>& frames, int repeats) {
    constexpr size_t kMaxPeriod = 32, kMinSpan = 12;
    const size_t n = frames.size();
    for (size_t p = 1; p <= kMaxPeriod; ++p) {
        size_t r = std::max(size_t(repeats), (kMinSpan + p - 1) / p);
        if (n < p * r) continue;
        bool cycle = true;
        for (size_t i = 0; i < p * (r - 1) && cycle; ++i) cycle = frames[n - 1 - i] == frames[n - 1 - i - p];
        if (cycle) return p * (r - 1);
    }
    return 0;
}

StopRule::StopRule(const tokens::Vocabulary& vocabulary, tokens::Modality target, int repetition_stop)
    : vocab_(&vocabulary), target_(target), repetition_stop_(repetition_stop) {}

StopRule::Verdict StopRule::accept(const Frame& frame, int step, int row_limit, std::vector<Frame>& frames) const {
    if (vocab_->is_end(target_, frame)) return Verdict::Ended;
    frames.push_back(frame);
    if (repetition_stop_ > 1) {
        if (size_t drop = repeated_tail(frames, repetition_stop_)) {
            frames.resize(frames.size() - drop);
            return Verdict::Looped;
        }
    }
    return step + 1 >= row_limit ? Verdict::AtLimit : Verdict::Continue;
}

}  // namespace umt::model
