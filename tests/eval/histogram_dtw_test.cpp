// Histogram EMD and DTW alignment: hand-computed distances and a known time warp.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "umt/eval/dtw.hpp"
#include "umt/eval/histogram.hpp"
#include "umt/eval/notes.hpp"

using namespace umt;
using namespace umt::eval;

TEST(Emd, HandCases) {
    EXPECT_DOUBLE_EQ(emd_1d({1, 0, 0}, {1, 0, 0}), 0.0);
    EXPECT_DOUBLE_EQ(emd_1d({1, 0, 0}, {0, 0, 1}), 2.0);          // all mass moves two bins
    EXPECT_DOUBLE_EQ(emd_1d({2, 0, 0}, {0, 0, 5}), 2.0);          // normalized first
    EXPECT_DOUBLE_EQ(emd_1d({0.5, 0.5, 0}, {0, 0.5, 0.5}), 1.0);  // each half moves one bin
    EXPECT_DOUBLE_EQ(emd_1d({1, 0, 0}, {0, 1, 0}, 0.5), 0.5);     // bin width scales
    EXPECT_DOUBLE_EQ(emd_1d({0, 0, 0}, {0, 0, 0}), 0.0);
    EXPECT_DOUBLE_EQ(emd_1d({0, 0, 0}, {0, 1, 0}), 2.0);  // empty vs non-empty: the maximum
    EXPECT_THROW(emd_1d({1, 0}, {1, 0, 0}), std::invalid_argument);
}

TEST(Emd, PitchHistogramInSemitones) {
    // A C major triad against the same triad a whole tone up: every note moves 2.
    EXPECT_DOUBLE_EQ(pitch_emd(std::vector<int>{60, 64, 67}, std::vector<int>{62, 66, 69}), 2.0);
    auto h = pitch_histogram(std::vector<int>{60, 60, 64, 200});  // out-of-range ignored
    EXPECT_DOUBLE_EQ(h[60], 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(h[64], 1.0 / 3.0);
}

TEST(Emd, DurationHistogramInOctaves) {
    DurationBinning b;  // quarters, 1/64 .. 16, two bins per octave
    EXPECT_EQ(b.bins(), 21);
    auto h = duration_histogram(std::vector<double>{1.0, 1.5, 2.0, 0.0, 1000.0}, b);
    EXPECT_DOUBLE_EQ(h[12], 0.2);  // quarter: log2(64) * 2
    EXPECT_DOUBLE_EQ(h[13], 0.2);  // dotted quarter falls between quarter and half
    EXPECT_DOUBLE_EQ(h[14], 0.2);  // half
    EXPECT_DOUBLE_EQ(h[0], 0.2);   // zero length (grace) -> shortest bin
    EXPECT_DOUBLE_EQ(h[20], 0.2);  // clamped
    // Every duration halved: one octave.
    EXPECT_DOUBLE_EQ(duration_emd({1, 2, 4}, {0.5, 1, 2}), 1.0);
    EXPECT_DOUBLE_EQ(duration_emd({1, 2, 4}, {1, 2, 4}), 0.0);
}

TEST(Dtw, HandPath) {
    // a = 0 1 2, b = 0 0 1 2 2 with |x - y| costs: a zero-cost path exists.
    std::vector<double> a{0, 1, 2}, b{0, 0, 1, 2, 2};
    DtwResult r = dtw(a.size(), b.size(), [&](std::size_t i, std::size_t j) { return std::fabs(a[i] - b[j]); });
    EXPECT_DOUBLE_EQ(r.cost, 0.0);
    std::vector<std::pair<std::size_t, std::size_t>> want{{0, 0}, {0, 1}, {1, 2}, {2, 3}, {2, 4}};
    EXPECT_EQ(r.path, want);
    EXPECT_THROW(dtw(0, 3, [](std::size_t, std::size_t) { return 0.0; }), std::invalid_argument);
}

TEST(Dtw, CosineDistance) {
    EXPECT_DOUBLE_EQ(cosine_distance({1, 0}, {2, 0}), 0.0);
    EXPECT_NEAR(cosine_distance({1, 0}, {0, 1}), 1.0, 1e-12);
    EXPECT_DOUBLE_EQ(cosine_distance({0, 0}, {0, 0}), 0.0);
    EXPECT_DOUBLE_EQ(cosine_distance({0, 0}, {1, 0}), 1.0);
}

TEST(Dtw, AlignmentUndoesATempoChange) {
    // A melody of distinct pitch classes, and the same played 1.5 times slower:
    // unaligned, almost no onset matches; aligned, nearly all do.
    Performance ref, slow;
    const int pcs[] = {0, 4, 7, 2, 5, 9, 11, 1, 3, 6, 8, 10};
    for (int k = 0; k < 24; ++k) {
        NoteEvent n;
        n.pitch = 60 + pcs[k % 12];
        n.onset_s = 0.5 * k;
        n.offset_s = n.onset_s + 0.45;
        ref.notes.push_back(n);
        n.onset_s *= 1.5;
        n.offset_s *= 1.5;
        slow.notes.push_back(n);
    }
    double before = score_notes(ref, slow).onset.f1();
    Performance aligned = align_to_reference(ref, slow, 0.05);
    double after = score_notes(ref, aligned).onset.f1();
    EXPECT_LT(before, 0.2);
    EXPECT_GE(after, 0.9);
    ASSERT_EQ(aligned.notes.size(), slow.notes.size());
    for (std::size_t k = 1; k < aligned.notes.size(); ++k) EXPECT_LE(aligned.notes[k - 1].onset_s, aligned.notes[k].onset_s);
}
