// Timings of the evaluation metrics on large synthetic inputs: SER (bit-parallel vs
// plain DP) on 20k-token sequences and note matching on 20k-note performances.
#include <chrono>
#include <cstdio>
#include <random>

#include "umt/eval/notes.hpp"
#include "umt/eval/ser.hpp"

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main() {
    using namespace umt;
    std::mt19937 rng(3);
    std::printf("%-44s %12s %10s\n", "case", "result", "ms");

    std::vector<std::uint32_t> a(20000);
    for (auto& x : a) x = rng() % 224;
    auto b = a;
    for (int e = 0; e < 2000; ++e) b[rng() % b.size()] = rng() % 224;
    auto t0 = std::chrono::steady_clock::now();
    std::size_t d = eval::edit_distance_ids(a, b);
    std::printf("%-44s %12zu %10.1f\n", "SER distance 20k x 20k, bit-parallel", d, ms_since(t0));
    t0 = std::chrono::steady_clock::now();
    d = eval::edit_distance_reference(a, b);
    std::printf("%-44s %12zu %10.1f\n", "SER distance 20k x 20k, two-row DP", d, ms_since(t0));

    Performance ref, hyp;
    double t = 0;
    for (int k = 0; k < 20000; ++k) {
        if (rng() % 3) t += 0.01 * (rng() % 30);  // else a chord
        NoteEvent n;
        n.onset_s = t;
        n.offset_s = t + 0.1 + 0.01 * (rng() % 100);
        n.pitch = 30 + int(rng() % 60);
        ref.notes.push_back(n);
        if (rng() % 10) {
            n.onset_s += 0.001 * (int(rng() % 100) - 50);
            n.offset_s += 0.001 * (int(rng() % 200) - 100);
            hyp.notes.push_back(n);
        }
    }
    t0 = std::chrono::steady_clock::now();
    eval::NoteScores s = eval::score_notes(ref, hyp);
    double ms = ms_since(t0);
    std::printf("%-44s %12.4f %10.1f\n", "note onset F1, 20k ref / 18k hyp notes", s.onset.f1(), ms);
    std::printf("%-44s %12.4f %10s\n", "note onset+offset F1 (same run)", s.onset_offset.f1(), "");
    return 0;
}
