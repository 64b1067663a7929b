// Note metrics: mir_eval-exact tolerance tests and Hopcroft–Karp maximum matching.
#include "umt/eval/notes.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace umt::eval {

std::vector<long> max_bipartite_matching(const std::vector<std::vector<std::size_t>>& adj, std::size_t n_right) {
    const std::size_t n_left = adj.size();
    const std::size_t kInf = std::numeric_limits<std::size_t>::max();
    std::vector<long> match_l(n_left, -1), match_r(n_right, -1);
    std::vector<std::size_t> dist(n_left), next(n_left);
    std::vector<std::size_t> queue, stack;
    queue.reserve(n_left);
    for (;;) {
        // Layers of the alternating-path graph from every free left vertex.
        queue.clear();
        for (std::size_t u = 0; u < n_left; ++u) {
            dist[u] = match_l[u] < 0 ? 0 : kInf;
            if (match_l[u] < 0) queue.push_back(u);
        }
        bool found = false;
        for (std::size_t qi = 0; qi < queue.size(); ++qi) {
            std::size_t u = queue[qi];
            for (std::size_t v : adj[u]) {
                long w = match_r[v];
                if (w < 0) found = true;
                else if (dist[w] == kInf) {
                    dist[w] = dist[u] + 1;
                    queue.push_back(static_cast<std::size_t>(w));
                }
            }
        }
        if (!found) break;
        // Vertex-disjoint augmenting paths along the layers; iterative so that long
        // paths in big files cannot overflow the stack.
        std::fill(next.begin(), next.end(), 0);
        for (std::size_t root = 0; root < n_left; ++root) {
            if (match_l[root] >= 0) continue;
            stack.assign(1, root);
            while (!stack.empty()) {
                std::size_t u = stack.back();
                if (next[u] == adj[u].size()) {
                    dist[u] = kInf;  // dead end for this phase
                    stack.pop_back();
                    continue;
                }
                std::size_t v = adj[u][next[u]];
                long w = match_r[v];
                if (w < 0) {
                    for (std::size_t k : stack) {
                        std::size_t vk = adj[k][next[k]];
                        match_l[k] = static_cast<long>(vk);
                        match_r[vk] = static_cast<long>(k);
                    }
                    break;
                }
                if (dist[w] != kInf && dist[w] == dist[u] + 1) stack.push_back(static_cast<std::size_t>(w));
                else ++next[u];
            }
        }
    }
    return match_l;
}

namespace {

// numpy.around(x, 4): multiply, round half to even (rint), divide.
double round4(double x) { return std::nearbyint(x * 10000.0) / 10000.0; }

bool within(double distance, double tolerance, bool strict) {
    return strict ? distance < tolerance : distance <= tolerance;
}

// mir_eval takes Hz; MIDI numbers go through mir_eval.util.midi_to_hz.
double midi_to_hz(int midi) { return 440.0 * std::pow(2.0, (double(midi) - 69.0) / 12.0); }

}  // namespace

std::vector<std::pair<std::size_t, std::size_t>> match_notes(const std::vector<NoteEvent>& ref,
                                                             const std::vector<NoteEvent>& hyp,
                                                             const NoteMatchOptions& opt, bool use_offsets) {
    // Hypothesis notes by onset, so each reference note only looks at a window.
    std::vector<std::size_t> order(hyp.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return hyp[a].onset_s < hyp[b].onset_s; });
    std::vector<double> onsets(hyp.size());
    for (std::size_t k = 0; k < order.size(); ++k) onsets[k] = hyp[order[k]].onset_s;
    std::vector<double> hyp_log2(hyp.size());
    for (std::size_t j = 0; j < hyp.size(); ++j) hyp_log2[j] = std::log2(midi_to_hz(hyp[j].pitch));

    // Rounding moves a distance by at most 5e-5 s, so this margin keeps every candidate.
    const double margin = 1e-3;
    std::vector<std::vector<std::size_t>> adj(ref.size());
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const NoteEvent& r = ref[i];
        const double r_log2 = std::log2(midi_to_hz(r.pitch));
        const double off_tol = std::max(opt.offset_ratio * std::fabs(r.offset_s - r.onset_s), opt.offset_min_tolerance_s);
        auto lo = std::lower_bound(onsets.begin(), onsets.end(), r.onset_s - opt.onset_tolerance_s - margin);
        auto hi = std::upper_bound(onsets.begin(), onsets.end(), r.onset_s + opt.onset_tolerance_s + margin);
        for (auto it = lo; it != hi; ++it) {
            std::size_t j = order[static_cast<std::size_t>(it - onsets.begin())];
            const NoteEvent& h = hyp[j];
            if (!within(round4(std::fabs(r.onset_s - h.onset_s)), opt.onset_tolerance_s, opt.strict)) continue;
            if (!within(std::fabs(1200.0 * (r_log2 - hyp_log2[j])), opt.pitch_tolerance_cents, opt.strict)) continue;
            if (use_offsets && !within(round4(std::fabs(r.offset_s - h.offset_s)), off_tol, opt.strict)) continue;
            adj[i].push_back(j);
        }
        std::sort(adj[i].begin(), adj[i].end());
    }
    std::vector<long> m = max_bipartite_matching(adj, hyp.size());
    std::vector<std::pair<std::size_t, std::size_t>> pairs;
    for (std::size_t i = 0; i < m.size(); ++i)
        if (m[i] >= 0) pairs.emplace_back(i, static_cast<std::size_t>(m[i]));
    return pairs;
}

NoteScores score_notes(const Performance& ref, const Performance& hyp, const NoteMatchOptions& opt) {
    NoteScores s;
    for (PrfCounts* c : {&s.onset, &s.onset_offset}) {
        c->ref_notes = ref.notes.size();
        c->hyp_notes = hyp.notes.size();
    }
    if (ref.notes.empty() || hyp.notes.empty()) return s;
    s.onset.matched = match_notes(ref.notes, hyp.notes, opt, false).size();
    s.onset_offset.matched = match_notes(ref.notes, hyp.notes, opt, true).size();
    return s;
}

const NoteFileScores& NoteAccumulator::add(const std::string& name, const Performance& ref, const Performance& hyp,
                                           bool hyp_missing) {
    files_.push_back({name, score_notes(ref, hyp, opt_), hyp_missing});
    return files_.back();
}

NoteScores NoteAccumulator::micro() const {
    NoteScores total;
    for (const auto& f : files_) {
        total.onset += f.scores.onset;
        total.onset_offset += f.scores.onset_offset;
    }
    return total;
}

namespace {
MacroPrf macro_of(const std::vector<NoteFileScores>& files, PrfCounts NoteScores::*which) {
    MacroPrf m;
    if (files.empty()) return m;
    for (const auto& f : files) {
        const PrfCounts& c = f.scores.*which;
        m.precision += c.precision();
        m.recall += c.recall();
        m.f1 += c.f1();
    }
    double n = double(files.size());
    m.precision /= n;
    m.recall /= n;
    m.f1 /= n;
    return m;
}
}  // namespace

MacroPrf NoteAccumulator::macro_onset() const { return macro_of(files_, &NoteScores::onset); }
MacroPrf NoteAccumulator::macro_onset_offset() const { return macro_of(files_, &NoteScores::onset_offset); }

}  // namespace umt::eval
