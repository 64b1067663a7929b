// Engraving through the decoding loop: a score cut into systems of LMX, each generated as image
// tokens and decoded by the image codec.
#include "umt/tasks/engrave.hpp"

#include "umt/core/error.hpp"
#include "umt/io/lmx.hpp"
#include "umt/tasks/inputs.hpp"

namespace umt::tasks {

using tokens::Modality;

std::vector<std::vector<std::string>> engrave_chunks(const Score& score, int measures_per_chunk) {
    if (measures_per_chunk < 1) throw Error("measures per chunk must be >= 1");
    Part part = score.default_part();
    if (part.measures.empty()) throw Error("the score has no measures to engrave");
    bool has_breaks = false;
    for (size_t i = 1; i < part.measures.size(); ++i) has_breaks |= part.measures[i].new_system;
    if (!has_breaks)
        for (size_t i = 0; i < part.measures.size(); ++i)
            part.measures[i].new_system = i > 0 && i % size_t(measures_per_chunk) == 0;
    return lmx::linearize_systems(part);
}

std::vector<cv::Mat> engrave(model::ModelBundle& bundle, const std::vector<std::vector<std::string>>& chunks,
                             const DecodeSettings& s, Timings* timings) {
    const auto& V = bundle.vocabulary();
    std::vector<model::DecodeRequest> requests;
    {
        StageTimer timer(timings, "encode");
        for (size_t i = 0; i < chunks.size(); ++i) {
            model::DecodeRequest r;
            try {
                r.input = V.lmx_frames(chunks[i]);
            } catch (const Error& e) {
                throw Error("system " + std::to_string(i + 1) + " (" + std::to_string(chunks[i].size()) +
                            " LMX tokens): " + e.what());
            }
            // About one code column of a full-height system per LMX token, and a height token.
            r.max_steps = step_limit(s, 8 + int(chunks[i].size()) * (V.max_height() + 1), V.max_length(Modality::Image) - 1);
            requests.push_back(std::move(r));
        }
    }
    auto results = run_decode(bundle, task_spec(Task::Engrave), requests, s, timings);
    return decode_images(bundle, results, timings, "system");
}

}  // namespace umt::tasks
