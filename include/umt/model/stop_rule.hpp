// When a decoded row stops (docs/DESIGN.md section 5): at the target's end frame, at the row's
// length limit, or, for targets that must not loop, at a repetition of its last frames.
#pragma once

#include <cstddef>
#include <vector>

#include "umt/tokens/vocabulary.hpp"

namespace umt::model {

// The repetition stop's test: when frames end in a cycle of 1..32 frames repeated `repeats` times
// (over at least 12 frames), the length of the tail to drop to keep one copy; else 0.
size_t repeated_tail(const std::vector<tokens::Frame>& frames, int repeats);

class StopRule {
public:
    enum class Verdict { Continue, Ended, Looped, AtLimit };
    // repetition_stop > 1 turns the repetition stop on (see DecodeOptions::repetition_stop).
    StopRule(const tokens::Vocabulary& vocabulary, tokens::Modality target, int repetition_stop);
    // Takes the frame a row generated at `step` (0-based) into `frames`, unless it is the end
    // frame; drops the repeats when the row loops. Any verdict but Continue ends the row.
    Verdict accept(const tokens::Frame& frame, int step, int row_limit, std::vector<tokens::Frame>& frames) const;

private:
    const tokens::Vocabulary* vocab_;
    tokens::Modality target_;
    int repetition_stop_;
};

}  // namespace umt::model
