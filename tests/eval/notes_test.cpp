// Note metrics: hand cases (tolerance edges, optimal matching) and equality with
// Debian's python3-mir-eval on seeded random cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "umt/eval/notes.hpp"
#include "../support/run_umt.hpp"

using namespace umt;
using namespace umt::eval;

namespace {

NoteEvent note(double on, double off, int pitch) {
    NoteEvent n;
    n.onset_s = on;
    n.offset_s = off;
    n.pitch = pitch;
    return n;
}

Performance perf(std::vector<NoteEvent> notes) {
    Performance p;
    p.notes = std::move(notes);
    return p;
}

}  // namespace

TEST(Notes, IdenticalListsScoreOne) {
    Performance p = perf({note(0, 0.5, 60), note(0, 0.5, 64), note(0.5, 1, 67), note(0.5, 1, 67)});
    NoteScores s = score_notes(p, p);
    EXPECT_EQ(s.onset.matched, 4u);
    EXPECT_DOUBLE_EQ(s.onset.f1(), 1.0);
    EXPECT_DOUBLE_EQ(s.onset_offset.f1(), 1.0);
}

TEST(Notes, EmptySidesScoreZero) {
    Performance p = perf({note(0, 0.5, 60)});
    NoteScores s = score_notes(p, Performance{});
    EXPECT_EQ(s.onset.matched, 0u);
    EXPECT_EQ(s.onset.ref_notes, 1u);
    EXPECT_DOUBLE_EQ(s.onset.f1(), 0.0);
    EXPECT_DOUBLE_EQ(score_notes(Performance{}, p).onset.precision(), 0.0);
}

TEST(Notes, ToleranceEdgesAfterRounding) {
    // 0.05 s apart in decimal is 0.05000000000000002 in binary; mir_eval rounds to
    // 4 decimals first, so it matches. 0.05006 rounds to 0.0501 and does not.
    Performance ref = perf({note(1.0, 2.0, 60), note(3.0, 4.0, 62)});
    Performance hyp = perf({note(1.05, 2.0, 60), note(3.05006, 4.0, 62)});
    NoteScores s = score_notes(ref, hyp);
    EXPECT_EQ(s.onset.matched, 1u);
    // An exact binary half-way point rounds to even: 1/32 -> 0.0312.
    NoteMatchOptions odd;
    odd.onset_tolerance_s = 0.0312;
    EXPECT_EQ(score_notes(perf({note(0.5, 1, 60)}), perf({note(0.53125, 1, 60)}), odd).onset.matched, 1u);
    // 0.05004 rounds down to 0.05 and matches.
    EXPECT_EQ(score_notes(ref, perf({note(1.05004, 2.0, 60)})).onset.matched, 1u);
    NoteMatchOptions strict;
    strict.strict = true;
    EXPECT_EQ(score_notes(ref, hyp, strict).onset.matched, 0u);
}

TEST(Notes, PitchMustAgree) {
    Performance ref = perf({note(0, 1, 60)});
    EXPECT_EQ(score_notes(ref, perf({note(0, 1, 61)})).onset.matched, 0u);
    NoteMatchOptions wide;
    wide.pitch_tolerance_cents = 100.0001;  // one semitone is 100 cents (to rounding)
    EXPECT_EQ(score_notes(ref, perf({note(0, 1, 61)}), wide).onset.matched, 1u);
}

TEST(Notes, OffsetToleranceIsTheLargerOfMinAndRatio) {
    // Duration 2 s: tolerance max(0.05, 0.4) = 0.4 s.
    Performance ref = perf({note(0, 2, 60)});
    EXPECT_EQ(score_notes(ref, perf({note(0, 2.4, 60)})).onset_offset.matched, 1u);
    EXPECT_EQ(score_notes(ref, perf({note(0, 2.41, 60)})).onset_offset.matched, 0u);
    // Duration 0.1 s: tolerance 0.05 s.
    Performance shortref = perf({note(0, 0.1, 60)});
    EXPECT_EQ(score_notes(shortref, perf({note(0, 0.15, 60)})).onset_offset.matched, 1u);
    EXPECT_EQ(score_notes(shortref, perf({note(0, 0.1501, 60)})).onset_offset.matched, 0u);
    EXPECT_EQ(score_notes(shortref, perf({note(0, 0.1501, 60)})).onset.matched, 1u);
}

TEST(Notes, MatchingIsMaximumNotGreedy) {
    // Hypothesis 0 fits both references, hypothesis 1 only the first: a greedy pass
    // pairing hyp 0 with ref 0 would leave one pair unmatched; the optimum has two.
    Performance ref = perf({note(0.00, 1, 60), note(0.06, 1, 60)});
    Performance hyp = perf({note(0.03, 1, 60), note(0.0, 1, 60)});
    auto pairs = match_notes(ref.notes, hyp.notes, {}, false);
    ASSERT_EQ(pairs.size(), 2u);
    EXPECT_EQ(pairs[0], (std::pair<std::size_t, std::size_t>{0, 1}));
    EXPECT_EQ(pairs[1], (std::pair<std::size_t, std::size_t>{1, 0}));
}

TEST(Notes, HopcroftKarpFindsMaximumOnAChain) {
    // Left i connects to right i and i+1: greedy left-to-right taking the last edge
    // first would strand vertices; the maximum is n.
    const std::size_t n = 2000;
    std::vector<std::vector<std::size_t>> adj(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (i + 1 < n) adj[i].push_back(i + 1);
        adj[i].push_back(i);
    }
    auto m = max_bipartite_matching(adj, n);
    std::size_t matched = 0;
    std::vector<int> used(n, 0);
    for (std::size_t i = 0; i < n; ++i)
        if (m[i] >= 0) {
            ++matched;
            EXPECT_EQ(used[static_cast<std::size_t>(m[i])]++, 0);
        }
    EXPECT_EQ(matched, n);
}

namespace {
// Kuhn's simple augmenting-path algorithm: slow but obviously right.
bool kuhn_try(std::size_t u, const std::vector<std::vector<std::size_t>>& adj, std::vector<long>& match_r,
              std::vector<char>& seen) {
    for (std::size_t v : adj[u]) {
        if (seen[v]) continue;
        seen[v] = 1;
        if (match_r[v] < 0 || kuhn_try(static_cast<std::size_t>(match_r[v]), adj, match_r, seen)) {
            match_r[v] = static_cast<long>(u);
            return true;
        }
    }
    return false;
}
}  // namespace

TEST(Notes, HopcroftKarpEqualsKuhnOnRandomGraphs) {
    std::mt19937 rng(99);
    for (int trial = 0; trial < 300; ++trial) {
        std::size_t nl = rng() % 30, nr = rng() % 30 + 1;
        unsigned density = rng() % 6 + 1;
        std::vector<std::vector<std::size_t>> adj(nl);
        for (auto& a : adj)
            for (std::size_t v = 0; v < nr; ++v)
                if (rng() % 20 < density) a.push_back(v);
        std::vector<long> match_r(nr, -1);
        std::size_t want = 0;
        for (std::size_t u = 0; u < nl; ++u) {
            std::vector<char> seen(nr, 0);
            if (kuhn_try(u, adj, match_r, seen)) ++want;
        }
        auto m = max_bipartite_matching(adj, nr);
        std::size_t got = 0;
        std::vector<int> used(nr, 0);
        for (std::size_t u = 0; u < nl; ++u) {
            if (m[u] < 0) continue;
            ++got;
            auto v = static_cast<std::size_t>(m[u]);
            ASSERT_NE(std::find(adj[u].begin(), adj[u].end(), v), adj[u].end()) << "not an edge";
            ASSERT_EQ(used[v]++, 0) << "right vertex used twice";
        }
        ASSERT_EQ(got, want) << "trial " << trial;
    }
}

TEST(Notes, MicroAndMacroAverages) {
    NoteAccumulator acc;
    acc.add("a", perf({note(0, 1, 60), note(1, 2, 62)}), perf({note(0, 1, 60), note(1, 2, 62)}));  // F1 1
    acc.add("b", perf({note(0, 1, 60), note(1, 2, 62)}), perf({note(0, 1, 61)}));                   // F1 0
    NoteScores m = acc.micro();
    EXPECT_EQ(m.onset.matched, 2u);
    EXPECT_EQ(m.onset.ref_notes, 4u);
    EXPECT_EQ(m.onset.hyp_notes, 3u);
    EXPECT_DOUBLE_EQ(m.onset.precision(), 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(m.onset.recall(), 0.5);
    EXPECT_DOUBLE_EQ(acc.macro_onset().f1, 0.5);
    EXPECT_DOUBLE_EQ(acc.macro_onset().recall, 0.5);
}

// ---- equality with mir_eval ----------------------------------------------------

namespace {

struct Case {
    std::vector<NoteEvent> ref, hyp;
    NoteMatchOptions opt;
};

// Offsets near the tolerance edges (exact, 1e-4 grid half-way points, 1e-9 beyond)
// are where an implementation that does not round like numpy would differ.
double edge_shift(std::mt19937& rng, double tol) {
    static const double deltas[] = {0.0, 1e-9, -1e-9, 5e-5, -5e-5, 4.9e-5, 5.1e-5, 1e-4, -1e-4, 0.00015, 2e-3};
    double d = deltas[rng() % (sizeof deltas / sizeof deltas[0])];
    double sign = rng() % 2 ? 1.0 : -1.0;
    return sign * (tol + d);
}

double uniform(std::mt19937& rng, double lo, double hi) { return lo + (hi - lo) * (double(rng()) / 4294967296.0); }

Case make_case(std::mt19937& rng, int index) {
    Case c;
    if (index % 5 == 1) c.opt.onset_tolerance_s = 0.1;
    if (index % 7 == 2) c.opt.offset_ratio = 0.5;
    if (index % 9 == 3) c.opt.offset_min_tolerance_s = 0.02;
    const int n_ref = index % 10 == 9 ? 0 : int(rng() % 40) + 1;
    double t = uniform(rng, 0.0, 0.3);
    for (int k = 0; k < n_ref; ++k) {
        if (rng() % 3) t += std::round(uniform(rng, 0.0, 0.3) * 1000) / 1000;  // else: a chord
        int pitch = 40 + int(rng() % 30);
        double dur = rng() % 4 == 0 ? uniform(rng, 0.01, 0.2) : std::round(uniform(rng, 0.05, 2.0) * 100) / 100;
        c.ref.push_back(note(t, t + dur, pitch));
        if (rng() % 8 == 0) c.ref.push_back(note(t, t + dur, pitch));  // duplicate
    }
    for (const auto& r : c.ref) {
        unsigned what = rng() % 10;
        if (what == 0) continue;  // missed note
        double on = r.onset_s, off = r.offset_s;
        int pitch = r.pitch;
        if (what <= 3) on += edge_shift(rng, c.opt.onset_tolerance_s);
        else if (what <= 5) on += uniform(rng, -0.03, 0.03);
        double off_tol = std::max(c.opt.offset_ratio * (r.offset_s - r.onset_s), c.opt.offset_min_tolerance_s);
        if (rng() % 2) off += edge_shift(rng, off_tol);
        else off += uniform(rng, -0.02, 0.02);
        if (rng() % 12 == 0) pitch += rng() % 2 ? 1 : -1;
        on = std::max(0.0, on);
        if (off <= on) off = on + 0.01;
        c.hyp.push_back(note(on, off, pitch));
        if (rng() % 10 == 0) {  // doubled a little later
            double on2 = on + 0.05 + uniform(rng, -0.04, 0.04);
            c.hyp.push_back(note(on2, std::max(off + 0.05, on2 + 0.01), pitch));
        }
    }
    int extra = int(rng() % 4);
    for (int k = 0; k < extra; ++k) {
        double on = uniform(rng, 0.0, t + 0.5);
        c.hyp.push_back(note(on, on + uniform(rng, 0.02, 1.0), 40 + int(rng() % 30)));
    }
    if (index % 10 == 4) c.hyp.clear();
    std::shuffle(c.hyp.begin(), c.hyp.end(), rng);
    return c;
}

bool mir_eval_available(std::string& why) {
    if (access("/usr/bin/python3", X_OK) != 0) {
        why = "/usr/bin/python3 is missing";
        return false;
    }
    if (std::system("/usr/bin/python3 -c 'import mir_eval' >/dev/null 2>&1") != 0) {
        why = "python3 module mir_eval is missing (apt-get install python3-mir-eval)";
        return false;
    }
    return true;
}

}  // namespace

TEST(Notes, EqualsMirEvalOnRandomCases) {
    std::string why;
    if (!mir_eval_available(why)) GTEST_SKIP() << why;

    std::mt19937 rng(20240601);
    const int n_cases = 60;
    std::vector<Case> cases;
    for (int i = 0; i < n_cases; ++i) cases.push_back(make_case(rng, i));
    {
        // Exact binary half-way points: 1/32 s = 312.5e-4 rounds to even (0.0312) in
        // numpy, so it matches at a 0.0312 tolerance; rounding half up would not.
        Case c;
        c.opt.onset_tolerance_s = 0.0312;
        for (int k = 0; k < 8; ++k) {
            c.ref.push_back(note(0.5 + 0.25 * k, 0.625 + 0.25 * k, 60 + k));
            c.hyp.push_back(note(0.5 + 0.25 * k + (k % 2 ? 0.03125 : -0.03125), 0.625 + 0.25 * k, 60 + k));
        }
        cases.push_back(c);
    }
    nlohmann::json doc;
    doc["cases"] = nlohmann::json::array();
    for (const Case& c : cases) {
        auto list = [](const std::vector<NoteEvent>& v) {
            nlohmann::json a = nlohmann::json::array();
            for (const auto& n : v) a.push_back({n.onset_s, n.offset_s, n.pitch});
            return a;
        };
        doc["cases"].push_back({{"ref", list(c.ref)}, {"hyp", list(c.hyp)},
                                {"onset_tolerance", c.opt.onset_tolerance_s}, {"offset_ratio", c.opt.offset_ratio},
                                {"offset_min_tolerance", c.opt.offset_min_tolerance_s},
                                {"pitch_tolerance", c.opt.pitch_tolerance_cents}});
    }
    auto dir = std::filesystem::temp_directory_path() / ("umt_mir_eval_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    auto in_path = dir / "cases.json";
    std::ofstream(in_path) << doc.dump();
    auto run = umt::testing::run_command("/usr/bin/python3 " + std::string(UMT_SOURCE_DIR) +
                                         "/scripts/mir_eval_reference.py " + in_path.string());
    std::filesystem::remove_all(dir);
    ASSERT_EQ(run.rc, 0) << run.output;
    auto res = nlohmann::json::parse(run.output)["results"];
    ASSERT_EQ(res.size(), cases.size());

    int partial_onset = 0, offsets_differ = 0;
    for (int i = 0; i < int(cases.size()); ++i) {
        const Case& c = cases[std::size_t(i)];
        NoteScores s = score_notes(perf(c.ref), perf(c.hyp), c.opt);
        const auto& on = res[std::size_t(i)]["onset"];
        const auto& onoff = res[std::size_t(i)]["onset_offset"];
        EXPECT_NEAR(s.onset.precision(), on[0].get<double>(), 1e-9) << "case " << i;
        EXPECT_NEAR(s.onset.recall(), on[1].get<double>(), 1e-9) << "case " << i;
        EXPECT_NEAR(s.onset.f1(), on[2].get<double>(), 1e-9) << "case " << i;
        EXPECT_NEAR(s.onset_offset.precision(), onoff[0].get<double>(), 1e-9) << "case " << i;
        EXPECT_NEAR(s.onset_offset.recall(), onoff[1].get<double>(), 1e-9) << "case " << i;
        EXPECT_NEAR(s.onset_offset.f1(), onoff[2].get<double>(), 1e-9) << "case " << i;
        double f = on[2].get<double>();
        if (f > 0.0 && f < 1.0) ++partial_onset;
        if (s.onset.matched != s.onset_offset.matched) ++offsets_differ;
    }
    // The cases must exercise the edges, not only trivial 0/1 scores.
    EXPECT_GE(partial_onset, 30);
    EXPECT_GE(offsets_differ, 20);
}
