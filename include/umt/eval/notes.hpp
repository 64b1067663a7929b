// Note-level transcription metrics with mir_eval.transcription semantics (v0.7).
//
// "onset" scores match a hypothesis note to a reference note when their onsets are
// within onset_tolerance_s and their pitches within pitch_tolerance_cents
// (mir_eval's precision_recall_f1_overlap with offset_ratio=None — not its
// pitch-blind onset_precision_recall_f1); "onset_offset" scores also require the
// offsets to be within max(offset_min_tolerance_s, offset_ratio × reference duration).
// Time distances are rounded to 4 decimals (half to even) before the <= test, as
// mir_eval does; matching is a maximum one-to-one bipartite matching (Hopcroft–Karp),
// so the counts equal mir_eval's exactly. Zero-length notes are kept (mir_eval would
// refuse the whole file).
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "umt/core/performance.hpp"

namespace umt::eval {

struct NoteMatchOptions {
    double onset_tolerance_s = 0.05;
    double pitch_tolerance_cents = 50.0;
    double offset_ratio = 0.2;
    double offset_min_tolerance_s = 0.05;
    bool strict = false;  // < instead of <= in every tolerance test
};

// Matched / reference / hypothesis counts and the figures derived from them; all
// figures are 0 when a denominator is 0 (mir_eval returns 0 for an empty side).
struct PrfCounts {
    std::size_t matched = 0;
    std::size_t ref_notes = 0;
    std::size_t hyp_notes = 0;
    double precision() const { return hyp_notes ? double(matched) / double(hyp_notes) : 0.0; }
    double recall() const { return ref_notes ? double(matched) / double(ref_notes) : 0.0; }
    double f1() const {
        double p = precision(), r = recall();
        return p == 0.0 && r == 0.0 ? 0.0 : 2.0 * p * r / (p + r);
    }
    PrfCounts& operator+=(const PrfCounts& o) {
        matched += o.matched;
        ref_notes += o.ref_notes;
        hyp_notes += o.hyp_notes;
        return *this;
    }
};

struct NoteScores {
    PrfCounts onset;         // onset + pitch
    PrfCounts onset_offset;  // onset + pitch + offset
};

// Maximum-cardinality matching in a bipartite graph given as adjacency lists of the
// left vertices (right vertices numbered 0..n_right-1). Hopcroft–Karp. Returns, for
// every left vertex, its right partner or -1.
std::vector<long> max_bipartite_matching(const std::vector<std::vector<std::size_t>>& adjacency, std::size_t n_right);

// The (reference index, hypothesis index) pairs of a maximum matching, sorted by
// reference index. `use_offsets` adds the offset criterion.
std::vector<std::pair<std::size_t, std::size_t>> match_notes(const std::vector<NoteEvent>& ref,
                                                             const std::vector<NoteEvent>& hyp,
                                                             const NoteMatchOptions& opt, bool use_offsets);

NoteScores score_notes(const Performance& ref, const Performance& hyp, const NoteMatchOptions& opt = {});

// Several files: micro averages (counts summed over files) and macro averages
// (mean of the per-file figures, each computed as mir_eval would).
struct NoteFileScores {
    std::string name;
    NoteScores scores;
    bool hyp_missing = false;  // scored as an empty hypothesis
};

struct MacroPrf {
    double precision = 0, recall = 0, f1 = 0;
};

class NoteAccumulator {
public:
    explicit NoteAccumulator(NoteMatchOptions opt = {}) : opt_(opt) {}
    const NoteFileScores& add(const std::string& name, const Performance& ref, const Performance& hyp,
                              bool hyp_missing = false);
    const std::vector<NoteFileScores>& files() const { return files_; }
    NoteScores micro() const;
    MacroPrf macro_onset() const;
    MacroPrf macro_onset_offset() const;
    const NoteMatchOptions& options() const { return opt_; }

private:
    NoteMatchOptions opt_;
    std::vector<NoteFileScores> files_;
};

}  // namespace umt::eval
