// Optical music recognition: system images -> LMX per staff group (greedy by default), batched,
// joined into one part per staff group of the page.
#pragma once

#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "umt/core/score.hpp"
#include "umt/core/timings.hpp"
#include "umt/model/bundle.hpp"
#include "umt/tasks/inputs.hpp"
#include "umt/tasks/task_table.hpp"

namespace umt::tasks {

struct OmrResult {
    Score score;  // one part per staff group (lenient delinearize)
    // Every part (the lowest, the piano of a voice-and-piano page, last), per system, as decoded.
    std::vector<std::vector<std::vector<std::string>>> part_system_lmx;
    std::vector<std::string> warnings;  // from delinearize
};

// Systems given as their staff groups (read_staff_groups): every group is read in one batch, and
// the k-th group from the bottom of each system joins part k from the bottom (a system without
// it, such as a piano-only introduction, gives that part measure rests). A part takes the staff
// count its groups show on the page (staff numbers beyond it move to its last staff).
OmrResult recognize_parts(model::ModelBundle& bundle, const std::vector<std::vector<GroupImage>>& systems,
                          const DecodeSettings& s, Timings* timings = nullptr);
// Each system read whole, as one part.
OmrResult recognize(model::ModelBundle& bundle, const std::vector<cv::Mat>& systems, const DecodeSettings& s,
                    Timings* timings = nullptr);

}  // namespace umt::tasks
