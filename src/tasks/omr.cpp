// Optical music recognition through the decoding loop: staff-group images in, LMX per group out,
// groups aligned from the bottom into parts.
#include "umt/tasks/omr.hpp"

#include <algorithm>

#include "umt/core/error.hpp"
#include "umt/io/lmx.hpp"

namespace umt::tasks {

using tokens::Modality;

namespace {

constexpr int kCell = model::ImageCodec::kDownsample;

// Gives a recognized part the staff count of its groups on the page: the model writes what it
// learnt (two piano staves) even for a voice staff.
void set_staff_count(Part& part, int staves) {
    if (staves <= 0 || part.measures.empty()) return;
    bool set = false;
    for (auto& m : part.measures)
        for (auto& e : m.elements) {
            if (auto* a = std::get_if<Attributes>(&e)) {
                if (!set) {
                    a->staves = staves;
                    set = true;
                }
                a->clefs.erase(std::remove_if(a->clefs.begin(), a->clefs.end(),
                                              [&](const Clef& c) { return c.staff > staves; }),
                               a->clefs.end());
            } else if (auto* n = std::get_if<Note>(&e)) {
                n->staff = std::min(n->staff, staves);
            } else if (auto* f = std::get_if<Forward>(&e)) {
                f->staff = std::min(f->staff, staves);
            } else if (auto* d = std::get_if<Direction>(&e)) {
                d->staff = std::min(d->staff, staves);
            }
        }
    if (!set) {
        Attributes a;
        a.staves = staves;
        auto& first = part.measures.front().elements;
        first.insert(first.begin(), a);
    }
}

}  // namespace

OmrResult recognize_parts(model::ModelBundle& bundle, const std::vector<std::vector<GroupImage>>& systems,
                          const DecodeSettings& s, Timings* timings) {
    const auto& spec = task_spec(Task::Omr);
    const bool pixels = reads_pixels(bundle);
    const auto& V = bundle.vocabulary();
    std::vector<model::DecodeRequest> requests;
    size_t parts = 0;
    {
        StageTimer timer(timings, "encode");
        for (const auto& groups : systems) {
            if (groups.empty()) throw Error("a system without staff groups");
            parts = std::max(parts, groups.size());
            for (const auto& group : groups) {
                model::DecodeRequest r;
                int cols = 0;
                if (pixels) {
                    r.pixels = to_ink(group.image, V);
                    cols = r.pixels.width / kCell;
                } else {
                    auto grid = bundle.image_codec().encode(to_codec_image(group.image));
                    r.input = V.image_frames({grid});
                    cols = grid.cols;
                }
                // A dense piano column (16 px at the model's staff height) holds a few notes of a
                // few tokens each on every staff.
                r.max_steps = step_limit(s, 16 + 24 * cols, V.max_length(Modality::Lmx) - 1);
                requests.push_back(std::move(r));
            }
        }
    }
    auto results = run_decode(bundle, spec, requests, s, timings);
    // Part k from the bottom takes group k from the bottom of every system; a system without it
    // gives as many measure rests as its bottom group has measures.
    OmrResult out;
    out.part_system_lmx.assign(parts, {});
    std::vector<int> staves(parts, 0);
    size_t next = 0;
    for (const auto& groups : systems) {
        const size_t first_part = parts - groups.size();
        for (size_t g = 0; g < groups.size(); ++g, ++next) {
            out.part_system_lmx[first_part + g].push_back(V.to_lmx(results[next].frames));
            staves[first_part + g] = std::max(staves[first_part + g], groups[g].staves);
        }
        const auto& bottom = out.part_system_lmx.back().back();
        size_t measures = size_t(std::count(bottom.begin(), bottom.end(), std::string("measure")));
        for (size_t p = 0; p < first_part; ++p) {
            std::vector<std::string> rests;
            for (size_t m = 0; m < measures; ++m) rests.insert(rests.end(), {"measure", "rest", "rest:measure"});
            out.part_system_lmx[p].push_back(std::move(rests));
        }
    }
    for (size_t p = 0; p < parts; ++p) {
        std::vector<std::string> joined, warnings;
        std::vector<size_t> first_measure;  // index of each system's first measure in the joined part
        size_t measures = 0;
        for (const auto& tokens : out.part_system_lmx[p]) {
            first_measure.push_back(measures);
            for (const auto& t : tokens) {
                measures += t == "measure";
                joined.push_back(t);
            }
        }
        Score one = lmx::delinearize_score(joined, &warnings);
        Part part = one.parts.empty() ? Part{} : std::move(one.parts[0]);
        auto& ms = part.measures;
        for (size_t k = 1; k < first_measure.size(); ++k)
            if (first_measure[k] < ms.size() && first_measure[k] > 0) ms[first_measure[k]].new_system = true;
        set_staff_count(part, staves[p]);
        part.id = "P" + std::to_string(p + 1);
        if (parts > 1) {
            part.name = "Part " + std::to_string(p + 1);
            for (auto& w : warnings) w = part.name + ": " + w;
        }
        out.warnings.insert(out.warnings.end(), warnings.begin(), warnings.end());
        out.score.parts.push_back(std::move(part));
    }
    return out;
}

OmrResult recognize(model::ModelBundle& bundle, const std::vector<cv::Mat>& systems, const DecodeSettings& s,
                    Timings* timings) {
    std::vector<std::vector<GroupImage>> one_group;
    for (const auto& sys : systems) one_group.push_back({{sys, 0}});
    return recognize_parts(bundle, one_group, s, timings);
}

}  // namespace umt::tasks
