// Engraving: LMX per system -> image tokens with height tokens -> codec decode.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "umt/core/score.hpp"
#include "umt/core/timings.hpp"
#include "umt/model/bundle.hpp"
#include "umt/tasks/task_table.hpp"

namespace umt::tasks {

// LMX per system of the score's default part: its own system breaks when it has any, else chunks of
// measures_per_chunk measures (later chunks restate key and clefs, as linearize_systems does).
std::vector<std::vector<std::string>> engrave_chunks(const Score& score, int measures_per_chunk = 4);
// LMX -> image tokens with height tokens (seeded multinomial) -> codec decode; one image per
// generated system (a chunk may yield several, or none: then it is skipped with a warning).
std::vector<cv::Mat> engrave(model::ModelBundle& bundle, const std::vector<std::vector<std::string>>& chunks,
                             const DecodeSettings& s, Timings* timings = nullptr);

}  // namespace umt::tasks
